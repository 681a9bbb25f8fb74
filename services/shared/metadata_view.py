"""The JSON form of a metadata job, shared by GET /metadata/status and the metadata webhook."""

from __future__ import annotations

from typing import Any

from ferry.importer.v1 import importer_pb2

from services.shared.timestamps import format_timestamp

_STATUS_NAMES = {
    importer_pb2.METADATA_STATUS_QUEUED: "queued",
    importer_pb2.METADATA_STATUS_PROCESSING: "processing",
    importer_pb2.METADATA_STATUS_COMPLETED: "completed",
    importer_pb2.METADATA_STATUS_FAILED: "failed",
}


def metadata_status_name(job: importer_pb2.MetadataJob) -> str:
    """Return the job's status name; an unset status reads as queued."""
    return _STATUS_NAMES.get(job.status, "queued")


def render_metadata_job(job: importer_pb2.MetadataJob) -> dict[str, Any]:
    """Render a metadata job. A basic job has only title, duration and thumbnail.

    Unknown values are null. `jobId` repeats `metadataId` for clients written for Importly.
    """
    status = metadata_status_name(job)
    data: dict[str, Any] = {
        "metadataId": job.metadata_id,
        "jobId": job.metadata_id,
        "status": status,
        "url": job.url,
    }
    if status == "completed":
        metadata = job.metadata
        data["title"] = metadata.title or None
        data["duration"] = metadata.duration_seconds or None
        data["thumbnail"] = metadata.thumbnail or None
        if not job.basic:
            data["uploader"] = metadata.uploader or None
            data["presets"] = [_render_preset(preset) for preset in metadata.presets]
    data["message"] = job.message
    if status == "failed":
        data["errorCode"] = job.error_code
    for name, field in (
        ("createdAt", "created_at"),
        ("startedAt", "started_at"),
        ("finishedAt", "finished_at"),
    ):
        if job.HasField(field):
            data[name] = format_timestamp(getattr(job, field))
    return data


def _render_preset(preset: importer_pb2.FormatPreset) -> dict[str, Any]:
    return {
        "preset": preset.name,
        "selector": preset.selector,
        "ext": preset.ext,
        "height": preset.height or None,
        "width": preset.width or None,
        "fps": preset.fps or None,
        "vcodec": preset.vcodec or None,
        "acodec": preset.acodec or None,
        "estimatedSize": (
            preset.estimated_size_bytes if preset.HasField("estimated_size_bytes") else None
        ),
        "estimatedCredits": (
            preset.estimated_credits if preset.HasField("estimated_credits") else None
        ),
    }
