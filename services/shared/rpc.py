"""gRPC plumbing: error translation, id propagation, channels and server start-up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.shared import logs, metrics
from services.shared.errors import FerryError, InternalError, error_class_for

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "ferry"
_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_UNKNOWN = grpc.StatusCode.UNKNOWN
_ID_HEADERS = {"x-request-id": logs.request_id_var, "x-account-id": logs.account_id_var,
               "x-import-id": logs.import_id_var}

# Retry only calls that never reached the server; every other failure is final here.
_SERVICE_CONFIG = json.dumps(
    {
        "methodConfig": [
            {
                "name": [{}],
                "retryPolicy": {
                    "maxAttempts": 4,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "2s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE"],
                },
            }
        ]
    }
)


def status_for(error: FerryError) -> status_pb2.Status:
    """Encode `error` as a google.rpc.Status with its code and details."""
    info = error_details_pb2.ErrorInfo(reason=error.code, domain=ERROR_DOMAIN)
    details = struct_pb2.Struct()
    details.update(json.loads(json.dumps(error.details, default=str)))
    status = status_pb2.Status(code=error.grpc_status.value[0], message=error.message)
    status.details.add().Pack(info)
    status.details.add().Pack(details)
    return status


def error_from_rpc(exc: grpc.aio.AioRpcError) -> FerryError:
    """Rebuild the FerryError a peer raised, or map a bare status code to one."""
    cls = error_class_for(exc.code())
    for key, value in exc.trailing_metadata() or ():
        if key != _STATUS_DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        code, details = None, {}
        for any_detail in status.details:
            info = error_details_pb2.ErrorInfo()
            struct = struct_pb2.Struct()
            if any_detail.Unpack(info):
                code = info.reason
            elif any_detail.Unpack(struct):
                details = {key: _restore_int(value)
                           for key, value in json_format.MessageToDict(struct).items()}
        return cls(status.message, code=code, **details)
    if cls is InternalError:
        return InternalError("internal error in a Ferry service")
    return cls(f"{exc.details() or exc.code().name}", code=None)


def _restore_int(value: Any) -> Any:
    # Struct stores every number as a double; give whole numbers back their int type.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Bind the caller's ids to the log context and turn FerryError into a gRPC status."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        metadata = dict(handler_call_details.invocation_metadata or ())
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            ids = {name.removeprefix("x-").replace("-", "_"): metadata.get(name, "")
                   for name in _ID_HEADERS}
            with logs.bind(**{key: value for key, value in ids.items() if value}), \
                    _measured(method) as outcome:
                try:
                    return await inner(request, context)
                except FerryError as error:
                    logger.info("%s failed: %s (%s)", method, error.message, error.code)
                    outcome.code = error.grpc_status
                    status = status_for(error)
                    await context.abort(
                        error.grpc_status,
                        error.message,
                        trailing_metadata=((_STATUS_DETAILS_KEY, status.SerializeToString()),),
                    )
                except grpc.aio.AbortError:
                    code = context.code()
                    outcome.code = code if isinstance(code, grpc.StatusCode) else _UNKNOWN
                    raise
                except asyncio.CancelledError:
                    outcome.code = grpc.StatusCode.CANCELLED
                    raise
                except Exception:
                    logger.exception("%s failed with an unexpected error", method)
                    outcome.code = grpc.StatusCode.INTERNAL
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")

        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@dataclass
class _Outcome:
    code: grpc.StatusCode = grpc.StatusCode.OK


@contextlib.contextmanager
def _measured(method: str) -> Iterator[_Outcome]:
    """Count one call of `method` by status code and observe its duration."""
    outcome = _Outcome()
    started = time.perf_counter()
    try:
        yield outcome
    finally:
        metrics.GRPC_REQUEST_SECONDS.labels(method=method).observe(time.perf_counter() - started)
        metrics.GRPC_REQUESTS.labels(method=method, code=outcome.code.name).inc()


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Forward the ids in the log context as metadata and raise FerryError on failure."""

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        metadata = list(client_call_details.metadata or ())
        if not logs.request_id_var.get():
            logs.request_id_var.set(uuid.uuid4().hex)
        for header, var in _ID_HEADERS.items():
            if var.get():
                metadata.append((header, var.get()))
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout,
            metadata=grpc.aio.Metadata(*metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        call = await continuation(details, request)
        try:
            return await call
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from exc


def open_channel(address: str) -> grpc.aio.Channel:
    """Open an insecure channel that retries UNAVAILABLE and translates errors."""
    return grpc.aio.insecure_channel(
        address,
        options=[("grpc.service_config", _SERVICE_CONFIG), ("grpc.enable_retries", 1)],
        interceptors=[ClientInterceptor()],
    )


def create_server() -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """Create a server with the error interceptor and the standard health service."""
    # gRPC sets SO_REUSEPORT by default, so a second server on a busy port would start
    # and share the traffic instead of failing.
    server = grpc.aio.server(
        interceptors=[ServerInterceptor()], options=[("grpc.so_reuseport", 0)]
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, health_servicer


async def set_serving(health_servicer: health.aio.HealthServicer, serving: bool) -> None:
    """Report SERVING or NOT_SERVING for the whole server."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    await health_servicer.set("", status)


def bind_port(server: grpc.aio.Server, host: str, port: int) -> int:
    """Listen on host:port (0 picks a free port) and return the port actually bound."""
    try:
        # grpcio returns 0 on failure in older releases and raises RuntimeError in newer ones.
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError as exc:
        raise OSError(f"could not listen on {host}:{port}; is the port in use?") from exc
    if bound == 0:
        raise OSError(f"could not listen on {host}:{port}; is the port in use?")
    return bound
