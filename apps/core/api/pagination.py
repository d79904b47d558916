"""Cursor (keyset) pagination: {"next": url|null, "results": [...]}, page_size up to 1000."""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination
from rest_framework.response import Response


class _Envelope(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": {"type": "string", "nullable": True, "format": "uri"}, "results": schema},
        }


class CodeCursorPagination(_Envelope):
    ordering = "code"


class IdCursorPagination(_Envelope):
    ordering = "-id"


class AuditCursorPagination(_Envelope):
    ordering = ("-occurred_at", "-id")
