import pytest

from services.importer.failures import ImportFailure
from services.importer.probe import probe


async def test_probe_reads_streams(media_dir):
    media = await probe(media_dir / "clip.mp4")
    assert media.width == 160
    assert media.height == 120
    assert media.vcodec == "h264"
    assert media.acodec == "aac"
    assert media.fps == 15
    assert 1.5 < media.duration < 2.5


async def test_probe_video_without_audio(media_dir):
    media = await probe(media_dir / "silent.mp4")
    assert media.has_video
    assert not media.has_audio


async def test_probe_rejects_non_media(media_dir):
    with pytest.raises(ImportFailure) as caught:
        await probe(media_dir / "notes.txt")
    assert caught.value.code == "invalid_media"
