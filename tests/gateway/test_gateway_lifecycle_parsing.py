"""The query of GET /imports, parsed into a ListImportsRequest."""

from __future__ import annotations

import pytest
from ferry.importer.v1 import importer_pb2
from starlette.datastructures import QueryParams

from services.gateway.lifecycle_routes import parse_list_request
from services.shared.errors import InvalidRequest


def test_list_query_reads_every_parameter():
    query = QueryParams(
        "limit=5&cursor=imp_x&status=failed,cancelled&status=expired"
        "&createdAfter=2025-01-31T12:00:00Z&createdBefore=2025-02-01T00:00:00%2B01:00"
    )

    request = parse_list_request(query)

    assert request.page_size == 5
    assert request.cursor == "imp_x"
    assert list(request.statuses) == [
        importer_pb2.IMPORT_STATUS_FAILED,
        importer_pb2.IMPORT_STATUS_CANCELLED,
        importer_pb2.IMPORT_STATUS_EXPIRED,
    ]
    assert request.created_after.ToJsonString() == "2025-01-31T12:00:00Z"
    assert request.created_before.ToJsonString() == "2025-01-31T23:00:00Z"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=ten", "limit 'ten' is not a whole number"),
        ("status=done", "status 'done' is not valid"),
        ("createdAfter=yesterday", "createdAfter 'yesterday' is not a valid time"),
        ("createdBefore=2025-01-31T12:00:00", "has no time zone"),
    ],
)
def test_list_query_rejects_bad_values(query, message):
    with pytest.raises(InvalidRequest, match=message):
        parse_list_request(QueryParams(query))
