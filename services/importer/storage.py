"""Imported media in the S3 bucket: names, uploads, deletes and presigned URLs."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import quote

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from yt_dlp.utils import sanitize_filename

from services.shared.config import S3Settings
from services.shared.errors import Unavailable

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MAX_SLUG_LENGTH = 80
# Bounds the Content-Disposition header for very long titles.
MAX_TITLE_LENGTH = 200

_CONTENT_TYPES = {
    "mp4": "video/mp4",
    "m4a": "audio/mp4",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
}
_BUCKET_EXISTS_CODES = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"


def object_key(account_id: str, import_id: str, title: str, ext: str) -> str:
    """Return `<account>/<import>/<ASCII slug of the title>.<ext>`."""
    return f"{account_id}/{import_id}/{_slug(title)}.{ext}"


def content_type(ext: str) -> str:
    """Return the MIME type of a file with extension `ext`."""
    guessed, _ = mimetypes.guess_type(f"media.{ext}")
    return _CONTENT_TYPES.get(ext) or guessed or "application/octet-stream"


def content_disposition(title: str, ext: str) -> str:
    """Return an attachment header with an ASCII file name and the UTF-8 title (RFC 6266)."""
    full_name = f"{title[:MAX_TITLE_LENGTH].strip() or 'media'}.{ext}"
    return (
        f'attachment; filename="{_slug(title)}.{ext}"; '
        f"filename*=UTF-8''{quote(full_name, safe='')}"
    )


def _slug(title: str) -> str:
    slug = sanitize_filename(title, restricted=True).strip("._-")
    return slug[:MAX_SLUG_LENGTH].rstrip("._-") or "media"


class MediaStorage:
    """Store media files in one bucket; every call runs the synchronous SDK in a thread."""

    def __init__(self, settings: S3Settings) -> None:
        self._bucket = settings.bucket
        # With `region` set, the SDK signs without asking the server for the bucket region.
        self._client = _client(settings, settings.endpoint)
        self._public_client = _client(settings, settings.public_endpoint or settings.endpoint)

    @property
    def bucket(self) -> str:
        return self._bucket

    async def ensure_bucket(self) -> None:
        """Create the bucket unless it exists."""
        if await self._call("check bucket", self._client.bucket_exists, self._bucket):
            return
        try:
            await self._call("create bucket", self._client.make_bucket, self._bucket)
        except StorageUnavailable as exc:
            # Another replica created it between the two calls.
            cause = exc.__cause__
            if not (isinstance(cause, S3Error) and cause.code in _BUCKET_EXISTS_CODES):
                raise
            return
        logger.info("created bucket %s", self._bucket)

    async def upload(self, key: str, path: Path, content_type: str, disposition: str) -> None:
        """Upload the file at `path` from disk, in parts for large files."""
        await self._call(
            f"upload {key}",
            self._client.fput_object,
            self._bucket,
            key,
            str(path),
            content_type=content_type,
            metadata={"Content-Disposition": disposition},
        )

    async def delete(self, key: str) -> None:
        """Delete the object `key`; deleting a missing object succeeds."""
        await self._call(f"delete {key}", self._client.remove_object, self._bucket, key)

    async def presign(self, key: str, expires: timedelta) -> str:
        """Return a GET URL for `key` on the public endpoint, valid for `expires`."""
        return await self._call(
            f"presign {key}",
            self._public_client.presigned_get_object,
            self._bucket,
            key,
            expires=expires,
        )

    async def _call(
        self, action: str, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except (MinioException, urllib3.exceptions.HTTPError) as exc:
            raise StorageUnavailable(
                f"S3 request to {action} in bucket {self._bucket} failed: {exc}; "
                "check that the S3 endpoint is up and the credentials are valid",
                bucket=self._bucket,
            ) from exc


def _client(settings: S3Settings, endpoint: str) -> Minio:
    return Minio(
        endpoint,
        access_key=settings.access_key,
        secret_key=settings.secret_key,
        secure=settings.secure,
        region=settings.region,
    )
