"""GET /openapi.json: the OpenAPI 3.1 description of the REST API, from openapi.yaml."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DOCUMENT_NAME = "openapi.yaml"


def load_document() -> dict[str, Any]:
    """Parse the OpenAPI document that ships beside this module."""
    text = resources.files(__package__).joinpath(DOCUMENT_NAME).read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def create_routes() -> list[Route]:
    """Load the document once and return the route that serves it as JSON, without auth."""
    body = json.dumps(load_document(), ensure_ascii=False).encode("utf-8")

    async def openapi_json(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return [Route("/openapi.json", openapi_json, methods=["GET"])]
