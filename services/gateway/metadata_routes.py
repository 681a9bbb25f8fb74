"""The metadata endpoints: /metadata, /metadata/status, /metadata/basic, /metadata/basic/status."""

from __future__ import annotations

import logging
from typing import Any

from ferry.importer.v1 import importer_pb2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.gateway.auth import authenticated
from services.gateway.body import read_body
from services.gateway.parsing import decode_json_object, id_param, parse_metadata_request
from services.gateway.peers import request_peers
from services.shared import logs
from services.shared.metadata_view import metadata_status_name, render_metadata_job

logger = logging.getLogger(__name__)

PENDING_MESSAGE = "Metadata extraction is still running. Poll GET {route}/status?id={job_id}"


@authenticated
async def metadata(request: Request, account_id: str) -> Response:
    return await _start(request, account_id, basic=False)


@authenticated
async def metadata_basic(request: Request, account_id: str) -> Response:
    return await _start(request, account_id, basic=True)


@authenticated
async def metadata_status(request: Request, account_id: str) -> Response:
    return await _status(request, account_id, basic=False)


@authenticated
async def metadata_basic_status(request: Request, account_id: str) -> Response:
    return await _status(request, account_id, basic=True)


METADATA_ROUTES = [
    Route("/metadata", metadata, methods=["GET", "POST"]),
    Route("/metadata/status", metadata_status, methods=["GET"]),
    Route("/metadata/basic", metadata_basic, methods=["GET", "POST"]),
    Route("/metadata/basic/status", metadata_basic_status, methods=["GET"]),
]


async def _start(request: Request, account_id: str, basic: bool) -> Response:
    """Respond 200 with the metadata when it is ready within the wait, else 202 with the id."""
    if request.method == "POST":
        fields: dict[str, Any] = decode_json_object(await read_body(request))
    else:
        fields = dict(request.query_params)
    start = parse_metadata_request(fields)
    start.account_id = account_id
    start.basic = basic

    job = await request_peers(request).start_metadata(start)
    request.state.import_id = job.metadata_id
    data = render_metadata_job(job)
    with logs.bind(import_id=job.metadata_id):
        logger.info("metadata job returned with status %s", data["status"])
    if metadata_status_name(job) == "completed":
        return JSONResponse({"success": True, "data": data})
    route = "/metadata/basic" if basic else "/metadata"
    data["message"] = PENDING_MESSAGE.format(route=route, job_id=job.metadata_id)
    return JSONResponse({"success": True, "data": data}, status_code=202)


async def _status(request: Request, account_id: str, basic: bool) -> Response:
    job_id = id_param(
        request, "metadata job", "metadataId", "/metadata", "meta_01jnb7a2k4m6p8r0t2v4x6z8b0"
    )
    get = importer_pb2.GetMetadataRequest(account_id=account_id, metadata_id=job_id, basic=basic)
    with logs.bind(import_id=job_id):
        job = await request_peers(request).get_metadata(get)
    return JSONResponse({"success": True, "data": render_metadata_job(job)})
