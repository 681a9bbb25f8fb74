import dataclasses
import subprocess

from services.importer.container import prefer_mp4
from services.importer.downloader import Download
from services.importer.probe import probe


def _mkv_copy(source, target) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-c", "copy",
         str(target)],
        check=True,
        timeout=60,
    )


async def test_prefer_mp4_remuxes_mkv(media_dir, tmp_path):
    path = tmp_path / "media.mkv"
    _mkv_copy(media_dir / "clip.mp4", path)
    download = Download(path=path, title="clip", ext="mkv", duration=2.0, has_audio=True)

    result = await prefer_mp4(download, await probe(path))

    assert result.ext == "mp4"
    assert result.path == tmp_path / "media.mp4"
    assert not path.exists()
    remuxed = await probe(result.path)
    assert remuxed.vcodec == "h264"
    assert remuxed.acodec == "aac"


async def test_prefer_mp4_keeps_other_codecs(media_dir, tmp_path):
    path = tmp_path / "media.mkv"
    _mkv_copy(media_dir / "clip.mp4", path)
    download = Download(path=path, title="clip", ext="mkv", duration=2.0, has_audio=True)
    media = await probe(path)
    vp9_media = dataclasses.replace(media, vcodec="vp9")

    assert await prefer_mp4(download, vp9_media) == download
    assert path.exists()


async def test_prefer_mp4_leaves_mp4(media_dir):
    path = media_dir / "clip.mp4"
    download = Download(path=path, title="clip", ext="mp4", duration=2.0, has_audio=True)

    assert await prefer_mp4(download, await probe(path)) == download
