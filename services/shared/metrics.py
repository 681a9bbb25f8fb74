"""Prometheus metrics of every service, and the HTTP endpoint that serves them.

The metrics live in prometheus_client's default registry, so a service process exports
only those its code touches (each one appears once it has a first value, or at once for
metrics without labels). docs/operations.md lists them with the alerts worth setting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import (
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

from services.shared.config import setting

logger = logging.getLogger(__name__)

# Request latencies from 5 ms to 30 s: gRPC calls and REST calls that wait on them.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# Import durations from a second to two hours (FERRY_IMPORT_TIMEOUT_SECONDS is one hour).
IMPORT_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)

HTTP_REQUESTS = Counter(
    "ferry_http_requests",
    "HTTP requests the gateway answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "ferry_http_request_duration_seconds",
    "Time the gateway took to answer an HTTP request, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
GRPC_REQUESTS = Counter(
    "ferry_grpc_requests",
    "Unary gRPC calls a service answered, by full method name and status code.",
    ["method", "code"],
)
GRPC_REQUEST_SECONDS = Histogram(
    "ferry_grpc_request_duration_seconds",
    "Time a service took to answer a unary gRPC call, by full method name.",
    ["method"],
    buckets=LATENCY_BUCKETS,
)

IMPORTS = Counter(
    "ferry_imports",
    "Imports that reached a final status (completed or failed) in this importer.",
    ["status"],
)
IMPORT_FAILURES = Counter(
    "ferry_import_failures",
    "Failed imports by error code, such as download_failed, too_large or timed_out.",
    ["code"],
)
IMPORT_SECONDS = Histogram(
    "ferry_import_duration_seconds",
    "Time from StartImport to the completed record, queueing included.",
    buckets=IMPORT_BUCKETS,
)
DOWNLOADED_BYTES = Counter(
    "ferry_downloaded_bytes",
    "Bytes of media files that downloads produced, counted when a download finishes.",
)
UPLOADED_BYTES = Counter(
    "ferry_uploaded_bytes",
    "Bytes of media uploaded to the S3 bucket.",
)

CONSUMER_PENDING = Gauge(
    "ferry_consumer_pending_messages",
    "Messages of a durable JetStream consumer not yet delivered to any replica (the queue "
    "depth), as last sampled by this process.",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "ferry_consumer_ack_pending_messages",
    "Messages of a durable JetStream consumer delivered and not yet acknowledged (running "
    "jobs), as last sampled by this process.",
    ["consumer"],
)
CONSUMER_REDELIVERIES = Counter(
    "ferry_consumer_redeliveries",
    "Messages this process received that JetStream had delivered before.",
    ["consumer"],
)

WEBHOOK_ATTEMPTS = Counter(
    "ferry_webhook_attempts",
    "Webhook delivery attempts by outcome: delivered, retrying or failed (given up).",
    ["outcome"],
)
CREDITS_CHARGED = Counter(
    "ferry_credits_charged",
    "Credits captured from holds for completed imports.",
)

DEPENDENCY_UP = Gauge(
    "ferry_dependency_up",
    "1 when the last check of a dependency (nats, s3, database) succeeded, else 0.",
    ["dependency"],
)


@dataclass(frozen=True)
class MetricsSettings:
    host: str = setting(
        "FERRY_METRICS_HOST", "127.0.0.1", "Address the Prometheus /metrics endpoint binds."
    )
    port: int = setting(
        "FERRY_METRICS_PORT",
        9090,
        "Port of the Prometheus /metrics endpoint; 0 picks a free port.",
    )


def serve_metrics(settings: MetricsSettings) -> int:
    """Serve /metrics on host:port from a background thread and return the bound port.

    Raises OSError naming the variable when the port is taken.
    """
    # The *_created series double the series count and are rarely queried.
    disable_created_metrics()
    try:
        server, _ = start_http_server(settings.port, addr=settings.host)
    except OSError as exc:
        raise OSError(
            f"could not serve metrics on {settings.host}:{settings.port}: {exc.strerror}; "
            "set FERRY_METRICS_PORT to a free port"
        ) from exc
    port = server.server_address[1]
    logger.info("serving Prometheus metrics on http://%s:%d/metrics", settings.host, port)
    return port
