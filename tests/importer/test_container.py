import subprocess

import pytest

from services.importer import container
from services.importer.downloader import Download
from services.importer.formats import Selection
from services.importer.probe import probe

VIDEO = Selection("bv*+ba/b")


def _ffmpeg(*arguments: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *arguments],
        check=True,
        timeout=60,
    )


def _download(path, ext: str) -> Download:
    return Download(path=path, title="clip", ext=ext, duration=2.0, has_audio=True)


async def test_finalize_remuxes_mkv_to_mp4(media_dir, tmp_path):
    path = tmp_path / "media.mkv"
    _ffmpeg("-i", str(media_dir / "clip.mp4"), "-c", "copy", str(path))

    result = await container.finalize(_download(path, "mkv"), await probe(path), VIDEO)

    assert result.ext == "mp4"
    assert not path.exists()
    remuxed = await probe(result.path)
    assert remuxed.vcodec == "h264"
    assert remuxed.acodec == "aac"
    assert "mp4" in remuxed.container.split(",")


async def test_finalize_leaves_mp4(media_dir):
    path = media_dir / "clip.mp4"
    download = _download(path, "mp4")

    assert await container.finalize(download, await probe(path), VIDEO) == download


async def test_finalize_h264_opus_to_mkv(media_dir, tmp_path):
    path = tmp_path / "media.mp4"
    _ffmpeg("-i", str(media_dir / "clip.mp4"), "-c:v", "copy", "-c:a", "libopus",
            "-strict", "experimental", str(path))

    result = await container.finalize(_download(path, "mp4"), await probe(path), VIDEO)

    assert result.ext == "mkv"
    assert (await probe(result.path)).acodec == "opus"


async def test_finalize_audio_only_m4a(media_dir, tmp_path):
    path = tmp_path / "media.mp4"
    _ffmpeg("-i", str(media_dir / "clip.mp4"), "-c", "copy", str(path))
    selection = Selection("ba/b", audio_only=True, requires_audio=True)

    result = await container.finalize(_download(path, "mp4"), await probe(path), selection)
    stored = await probe(result.path)

    assert result.ext == "m4a"
    assert not stored.has_video
    assert stored.acodec == "aac"


async def test_finalize_video_only_drops_audio(media_dir, tmp_path):
    path = tmp_path / "media.mp4"
    _ffmpeg("-i", str(media_dir / "clip.mp4"), "-c", "copy", str(path))
    selection = Selection("bv/b", video_only=True, requires_video=True)

    result = await container.finalize(_download(path, "mp4"), await probe(path), selection)
    stored = await probe(result.path)

    assert result.ext == "mp4"
    assert stored.has_video
    assert not stored.has_audio


@pytest.mark.parametrize(
    ("vcodec", "acodec", "ext"),
    [
        ("h264", "aac", "mp4"),
        ("h264", "", "mp4"),
        ("hevc", "eac3", "mp4"),
        ("vp9", "opus", "webm"),
        ("av1", "opus", "webm"),
        ("h264", "opus", "mkv"),
        ("vp9", "aac", "mkv"),
        ("prores", "pcm_s16le", "mkv"),
        ("", "aac", "m4a"),
        ("", "mp3", "mp3"),
        ("", "opus", "m4a"),
    ],
)
def test_target_ext(vcodec, acodec, ext):
    media = container.MediaProbe(
        duration=1.0, width=0, height=0, vcodec=vcodec, acodec=acodec, fps=0.0
    )
    assert container.target_ext(media, audio_only=False) == ext
