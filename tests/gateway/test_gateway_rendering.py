"""Import records and delivery attempts rendered as the REST API's JSON."""

from __future__ import annotations

from datetime import UTC, datetime

from ferry.importer.v1 import importer_pb2
from ferry.notifier.v1 import notifier_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from services.gateway.rendering import render_attempt, render_import, render_started

CREATED = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def timestamp(moment: datetime) -> Timestamp:
    result = Timestamp()
    result.FromDatetime(moment)
    return result


def queued_record() -> importer_pb2.Import:
    return importer_pb2.Import(
        import_id="imp_01",
        account_id="acc_1",
        status=importer_pb2.IMPORT_STATUS_QUEUED,
        url="https://media.example/video.mp4",
        message="Import queued",
        created_at=timestamp(CREATED),
    )


def completed_record() -> importer_pb2.Import:
    record = queued_record()
    record.status = importer_pb2.IMPORT_STATUS_COMPLETED
    record.media_url = "https://s3.example/acc_1/imp_01/clip.mp4?X-Amz-Signature=abc"
    record.credits_used = 3
    record.message = "Import completed successfully"
    record.media.CopyFrom(
        importer_pb2.MediaInfo(
            title="Clip",
            duration_seconds=12.5,
            ext="mp4",
            size_bytes=2_500_000,
            width=1280,
            height=720,
            vcodec="h264",
            acodec="aac",
            fps=25.0,
        )
    )
    record.started_at.CopyFrom(timestamp(datetime(2025, 3, 1, 12, 0, 1, tzinfo=UTC)))
    record.finished_at.CopyFrom(timestamp(datetime(2025, 3, 1, 12, 0, 9, 250000, tzinfo=UTC)))
    record.expires_at.CopyFrom(timestamp(datetime(2025, 3, 8, 12, 0, 9, tzinfo=UTC)))
    return record


def test_render_queued():
    data = render_import(queued_record())

    assert data == {
        "importId": "imp_01",
        "status": "queued",
        "creditsUsed": 0,
        "message": "Import queued",
        "createdAt": "2025-03-01T12:00:00.000Z",
    }


def test_render_importing_progress():
    record = queued_record()
    record.status = importer_pb2.IMPORT_STATUS_IMPORTING
    record.progress.CopyFrom(
        importer_pb2.Progress(downloaded_bytes=500, total_bytes=2000, percent=25.04)
    )

    data = render_import(record)

    assert data["status"] == "importing"
    assert data["progress"] == {"downloadedBytes": 500, "totalBytes": 2000, "percent": 25.0}
    assert "mediaUrl" not in data


def test_render_completed():
    data = render_import(completed_record())

    assert data == {
        "importId": "imp_01",
        "status": "completed",
        "mediaUrl": "https://s3.example/acc_1/imp_01/clip.mp4?X-Amz-Signature=abc",
        "title": "Clip",
        "duration": 12.5,
        "creditsUsed": 3,
        "message": "Import completed successfully",
        "createdAt": "2025-03-01T12:00:00.000Z",
        "startedAt": "2025-03-01T12:00:01.000Z",
        "finishedAt": "2025-03-01T12:00:09.250Z",
        "expiresAt": "2025-03-08T12:00:09.000Z",
        "ext": "mp4",
        "filesize": 2_500_000,
        "width": 1280,
        "height": 720,
        "vcodec": "h264",
        "acodec": "aac",
        "fps": 25.0,
    }


def test_render_failed():
    record = queued_record()
    record.status = importer_pb2.IMPORT_STATUS_FAILED
    record.message = "Unsupported URL: https://media.example/video.mp4"
    record.error_code = "download_failed"

    data = render_import(record)

    assert data["status"] == "failed"
    assert data["errorCode"] == "download_failed"
    assert data["message"] == "Unsupported URL: https://media.example/video.mp4"
    assert "mediaUrl" not in data
    assert "progress" not in data


def test_render_started_with_webhook():
    record = queued_record()
    record.webhook_url = "https://hook.example/"

    assert render_started(record) == {
        "importId": "imp_01",
        "status": "queued",
        "message": "Media import has started. You will receive a webhook when it's complete.",
    }


def test_render_started_without_webhook():
    message = render_started(queued_record())["message"]

    assert message == "Media import has started. Poll GET /import/status?id=imp_01 for the result."


def test_render_attempt_delivered():
    attempt = notifier_pb2.DeliveryAttempt(
        message_id="imp_01.completed",
        event_type="import.completed",
        url="https://hook.example/",
        attempt=2,
        attempted_at=timestamp(CREATED),
        http_status=200,
        latency_seconds=0.0425,
        outcome=notifier_pb2.DELIVERY_OUTCOME_DELIVERED,
    )

    assert render_attempt(attempt) == {
        "messageId": "imp_01.completed",
        "deliveryId": "imp_01.completed",
        "eventType": "import.completed",
        "url": "https://hook.example/",
        "attempt": 2,
        "attemptedAt": "2025-03-01T12:00:00.000Z",
        "httpStatus": 200,
        "latencyMs": 42.5,
        "error": None,
        "outcome": "delivered",
    }


def test_render_attempt_without_response():
    attempt = notifier_pb2.DeliveryAttempt(
        attempt=1,
        error="timed out after 10 s",
        outcome=notifier_pb2.DELIVERY_OUTCOME_RETRYING,
    )

    data = render_attempt(attempt)

    assert data["httpStatus"] is None
    assert data["error"] == "timed out after 10 s"
    assert data["outcome"] == "retrying"


def test_render_attempt_redelivery():
    attempt = notifier_pb2.DeliveryAttempt(
        message_id="imp_01.completed", delivery_id="dlv_0123", attempt=1
    )

    assert render_attempt(attempt)["deliveryId"] == "dlv_0123"
