"""Imported media in the S3 bucket: names, uploads, deletes and presigned URLs."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import quote

import urllib3
from minio import Minio
from minio.commonconfig import ENABLED, Filter
from minio.error import MinioException, S3Error
from minio.lifecycleconfig import (
    AbortIncompleteMultipartUpload,
    Expiration,
    LifecycleConfig,
    Rule,
)
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
LIFECYCLE_RULE_ID = "ferry-retention"
_BUCKET_EXISTS_CODES = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


class StorageUnavailable(Unavailable):
    code = "storage_unavailable"


@dataclass(frozen=True)
class StoredObject:
    key: str
    last_modified: datetime | None


@dataclass(frozen=True)
class MultipartUpload:
    key: str
    upload_id: str
    initiated: datetime | None


def object_key(account_id: str, import_id: str, title: str, ext: str) -> str:
    """Return `<account>/<import>/<ASCII slug of the title>.<ext>`."""
    return f"{account_id}/{import_id}/{_slug(title)}.{ext}"


def import_prefix(account_id: str, import_id: str) -> str:
    """Return the key prefix under which every object of one import is stored."""
    return f"{account_id}/{import_id}/"


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
        """Upload the file at `path` from disk, in parts for large files.

        A cancelled upload waits for the SDK's thread to end, because the thread can't be
        stopped, and then deletes what it stored.
        """
        upload = asyncio.ensure_future(
            self._call(
                f"upload {key}",
                self._client.fput_object,
                self._bucket,
                key,
                str(path),
                content_type=content_type,
                metadata={"Content-Disposition": disposition},
            )
        )
        try:
            await asyncio.shield(upload)
        except asyncio.CancelledError:
            await asyncio.wait({upload})
            await self.delete(key)
            raise

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` and abort its multipart uploads; return the count."""
        objects = await self._call(
            f"list {prefix}", lambda: list(self._client.list_objects(self._bucket, prefix, True))
        )
        for item in objects:
            await self.delete(item.object_name)
        for upload in await self.multipart_uploads(prefix):
            await self.abort_upload(upload)
        return len(objects)

    async def list_objects(self) -> list[StoredObject]:
        """Return every object in the bucket with its last-modified time."""
        objects = await self._call(
            "list objects", lambda: list(self._client.list_objects(self._bucket, recursive=True))
        )
        return [StoredObject(item.object_name, item.last_modified) for item in objects]

    async def multipart_uploads(self, prefix: str = "") -> list[MultipartUpload]:
        """Return the multipart uploads in progress under `prefix` (at most 1,000)."""
        # NOTE: the minio SDK has no public call for ListMultipartUploads and
        # AbortMultipartUpload (minio 7.2), so these two use its underscored methods.
        result = await self._call(
            "list multipart uploads",
            self._client._list_multipart_uploads,
            self._bucket,
            prefix=prefix,
        )
        return [
            MultipartUpload(upload.object_name, upload.upload_id, upload.initiated_time)
            for upload in result.uploads
        ]

    async def abort_upload(self, upload: MultipartUpload) -> None:
        """Abort a multipart upload and free its parts."""
        await self._call(
            f"abort the upload of {upload.key}",
            self._client._abort_multipart_upload,
            self._bucket,
            upload.key,
            upload.upload_id,
        )

    async def expire_with_lifecycle_rule(self, retention_seconds: int) -> bool:
        """Ask the bucket to delete objects after the retention, in whole days.

        Returns False when the S3 service rejects lifecycle rules; the janitor deletes
        expired objects in every case, so the rule is only a second line.
        """
        days = max(1, -(-retention_seconds // 86400))
        config = LifecycleConfig(
            [
                Rule(
                    ENABLED,
                    rule_filter=Filter(prefix=""),
                    rule_id=LIFECYCLE_RULE_ID,
                    expiration=Expiration(days=days),
                    abort_incomplete_multipart_upload=AbortIncompleteMultipartUpload(
                        days_after_initiation=1
                    ),
                )
            ]
        )
        try:
            await self._call(
                "set the lifecycle rule", self._client.set_bucket_lifecycle, self._bucket, config
            )
        except StorageUnavailable as exc:
            logger.warning("the bucket %s has no lifecycle rule: %s; the janitor alone "
                           "deletes expired media", self._bucket, exc)
            return False
        logger.info("bucket %s deletes objects %d days after upload", self._bucket, days)
        return True

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
