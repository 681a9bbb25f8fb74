import pytest
from ferry.importer.v1.importer_pb2 import FormatRequest

from services.importer import formats
from services.shared.errors import InvalidRequest

HEIGHT_720 = "bv*[height<=720]+ba/b[height<=720]/wv*+ba/w"
HEIGHT_480 = "bv*[height<=480]+ba/b[height<=480]/wv*+ba/w"


@pytest.mark.parametrize(
    ("request_fields", "selector"),
    [
        pytest.param({}, HEIGHT_720, id="default-medium"),
        pytest.param({"quality": "low"}, HEIGHT_480, id="quality-low"),
        pytest.param({"quality": "medium"}, HEIGHT_720, id="quality-medium"),
        pytest.param({"quality": "high"}, "bv*+ba/b", id="quality-high"),
        pytest.param({"quality": " High "}, "bv*+ba/b", id="quality-case"),
        pytest.param({"format": "720p"}, HEIGHT_720, id="format-720p"),
        pytest.param({"format": "720"}, HEIGHT_720, id="format-720"),
        pytest.param({"format": "144p"}, formats.height_selector(144), id="format-min"),
        pytest.param({"format": "4320"}, formats.height_selector(4320), id="format-max"),
        pytest.param({"format": "bv*+ba/b", "quality": "low"}, "bv*+ba/b", id="format-wins"),
        pytest.param(
            {"format": "bestvideo[height<=1080][vcodec^=avc1]+bestaudio[ext=m4a]/best"},
            "bestvideo[height<=1080][vcodec^=avc1]+bestaudio[ext=m4a]/best",
            id="format-selector",
        ),
        pytest.param({"include_audio": True, "include_video": False}, "ba/b", id="audio-only"),
        pytest.param({"include_video": False}, "ba/b", id="audio-only-implicit"),
        pytest.param({"include_audio": False}, "bv/b", id="video-only"),
        pytest.param({"include_video": True}, "bv*+ba/b", id="includes-best"),
        pytest.param({"video_quality": "best"}, "bv*+ba/b", id="video-best"),
        pytest.param({"video_quality": "lowest"}, "wv*+ba/w", id="video-lowest"),
        pytest.param({"video_quality": "720p"}, HEIGHT_720, id="video-720p"),
        pytest.param({"video_quality": "2160p"}, formats.height_selector(2160), id="video-2160p"),
        pytest.param({"video_quality": "480p", "quality": "high"}, HEIGHT_480, id="video-wins"),
        pytest.param(
            {"video_quality": "720p", "audio_quality": "medium"},
            "bv*[height<=720]+(ba[abr<=128]/wa)/b[height<=720]/wv*+(ba[abr<=128]/wa)/w",
            id="video-720p-audio-medium",
        ),
        pytest.param({"audio_quality": "lowest"}, "bv*+wa/b", id="audio-lowest-with-video"),
        pytest.param(
            {"include_video": False, "audio_quality": "lowest"}, "wa/w", id="audio-only-lowest"
        ),
        pytest.param(
            {"include_video": False, "audio_quality": "low"}, "ba[abr<=64]/wa/b", id="audio-low"
        ),
        pytest.param(
            {"include_video": False, "audio_quality": "medium"},
            "ba[abr<=128]/wa/b",
            id="audio-medium",
        ),
        pytest.param(
            {"include_video": False, "audio_quality": "high"}, "ba[abr<=192]/wa/b", id="audio-high"
        ),
        pytest.param({"include_video": False, "audio_quality": "best"}, "ba/b", id="audio-best"),
        pytest.param(
            {"include_audio": False, "video_quality": "lowest"}, "wv/w", id="video-only-lowest"
        ),
        pytest.param(
            {"include_audio": False, "video_quality": "360p"},
            "bv[height<=360]/wv/b[height<=360]/w",
            id="video-only-360p",
        ),
    ],
)
def test_resolve_selector(request_fields, selector):
    assert formats.resolve(FormatRequest(**request_fields)).selector == selector


def test_resolve_audio_only_flag():
    selection = formats.resolve(FormatRequest(include_video=False))
    assert selection.audio_only
    assert not selection.video_only


def test_resolve_video_only_flag():
    selection = formats.resolve(FormatRequest(include_audio=False))
    assert selection.video_only
    assert not selection.audio_only


def test_resolve_every_selector_parses():
    fields = [{"quality": quality} for quality in ("low", "medium", "high")]
    fields += [{"video_quality": value} for value in formats._VIDEO_QUALITIES]
    fields += [{"audio_quality": value} for value in formats._AUDIO_SELECTORS]
    fields += [{"include_video": False, "audio_quality": value}
               for value in formats._AUDIO_SELECTORS]
    fields += [{"include_audio": False, "video_quality": value}
               for value in formats._VIDEO_QUALITIES]
    for request_fields in fields:
        selector = formats.resolve(FormatRequest(**request_fields)).selector
        # A valid selector passes through as the format itself.
        assert formats.resolve(FormatRequest(format=selector)).selector == selector


@pytest.mark.parametrize(
    ("request_fields", "field", "message"),
    [
        pytest.param({"format": "bv*+"}, "format", "not a valid yt-dlp format selector",
                     id="bad-selector"),
        pytest.param({"format": "best[height<=abc]"}, "format", "not a valid yt-dlp",
                     id="bad-filter"),
        pytest.param({"format": "100p"}, "format", "from 144 to 4320", id="height-low"),
        pytest.param({"format": "99999"}, "format", "from 144 to 4320", id="height-high"),
        pytest.param({"quality": "ultra"}, "quality", "use one of low, medium, high",
                     id="quality"),
        pytest.param({"format": "720p", "quality": "ultra"}, "quality", "ultra",
                     id="quality-with-format"),
        pytest.param({"video_quality": "1000p"}, "videoQuality", "1000p", id="video-quality"),
        pytest.param({"audio_quality": "loud"}, "audioQuality", "loud", id="audio-quality"),
        pytest.param({"include_video": False, "include_audio": False}, "includeVideo,includeAudio",
                     "both false", id="nothing-included"),
    ],
)
def test_resolve_rejects_invalid(request_fields, field, message):
    with pytest.raises(InvalidRequest, match=message) as caught:
        formats.resolve(FormatRequest(**request_fields))
    assert caught.value.details["field"] == field
    assert caught.value.http_status == 400


def test_resolve_bad_selector_message_single_line():
    with pytest.raises(InvalidRequest) as caught:
        formats.resolve(FormatRequest(format="b["))
    assert "\n" not in caught.value.message
