from datetime import timedelta

import httpx
import pytest

from services.importer import storage
from services.importer.storage import MediaStorage, StorageUnavailable
from services.shared.config import S3Settings


@pytest.fixture
async def media_storage(infra) -> MediaStorage:
    media = MediaStorage(infra.s3_settings())
    await media.ensure_bucket()
    return media


async def test_storage_ensure_bucket_twice(infra, media_storage):
    await media_storage.ensure_bucket()
    assert infra.minio().bucket_exists(media_storage.bucket)


async def test_storage_upload_sets_headers(infra, media_storage, tmp_path):
    path = tmp_path / "media.mp4"
    path.write_bytes(b"\x00" * 2048)
    key = storage.object_key("acc_1", "imp_1", "Café déjà vu", "mp4")

    await media_storage.upload(
        key, path, storage.content_type("mp4"), storage.content_disposition("Café déjà vu", "mp4")
    )

    stat = infra.minio().stat_object(media_storage.bucket, key)
    assert stat.size == 2048
    assert stat.content_type == "video/mp4"
    assert stat.metadata["Content-Disposition"] == (
        'attachment; filename="Cafe_deja_vu.mp4"; '
        "filename*=UTF-8''Caf%C3%A9%20d%C3%A9j%C3%A0%20vu.mp4"
    )


async def test_storage_presigned_url_downloads(media_storage, tmp_path):
    path = tmp_path / "media.mp4"
    path.write_bytes(b"media bytes")
    await media_storage.upload("acc_1/imp_2/media.mp4", path, "video/mp4", "attachment")

    url = await media_storage.presign("acc_1/imp_2/media.mp4", timedelta(hours=1))

    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    assert response.content == b"media bytes"


async def test_storage_presign_uses_public_endpoint(infra):
    settings = S3Settings(endpoint=infra.s3_endpoint, public_endpoint="media.example.com:9000")
    url = await MediaStorage(settings).presign("acc_1/imp_3/a.mp4", timedelta(minutes=5))
    assert url.startswith("http://media.example.com:9000/ferry-media/acc_1/imp_3/a.mp4?")


async def test_storage_delete(infra, media_storage, tmp_path):
    path = tmp_path / "media.mp4"
    path.write_bytes(b"x")
    await media_storage.upload("acc_1/imp_4/media.mp4", path, "video/mp4", "attachment")

    await media_storage.delete("acc_1/imp_4/media.mp4")

    names = [item.object_name for item in infra.minio().list_objects(media_storage.bucket,
                                                                     recursive=True)]
    assert "acc_1/imp_4/media.mp4" not in names


async def test_storage_unreachable_endpoint(tmp_path):
    from tools.launch import free_port

    settings = S3Settings(endpoint=f"127.0.0.1:{free_port()}")
    with pytest.raises(StorageUnavailable, match="check that the S3 endpoint is up"):
        await MediaStorage(settings).delete("acc_1/imp_5/media.mp4")


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Sample Video", "acc/imp/Sample_Video.mp4"),
        ("日本語", "acc/imp/media.mp4"),
        ("...", "acc/imp/media.mp4"),
        ("a" * 200, "acc/imp/" + "a" * 80 + ".mp4"),
        ('"quoted" / path', "acc/imp/quoted_path.mp4"),
    ],
)
def test_object_key_slug(title, key):
    assert storage.object_key("acc", "imp", title, "mp4") == key


def test_content_type_by_extension():
    assert storage.content_type("m4a") == "audio/mp4"
    assert storage.content_type("mkv") == "video/x-matroska"
    assert storage.content_type("unknownext") == "application/octet-stream"
