async def test_ensure_streams_idempotent(infra, js):
    from services.shared import bus
    await bus.ensure_streams(js, 60)
    await bus.ensure_streams(js, 60)
    info = await js.stream_info(bus.JOBS_STREAM)
    assert info.config.name == bus.JOBS_STREAM
    client = infra.minio()
    client.make_bucket("smoke")
    assert client.bucket_exists("smoke")
