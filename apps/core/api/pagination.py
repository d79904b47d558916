"""Cursor (keyset) pagination: {"next": url|null, "results": [...]}, page_size up to 1000.

``page_size`` and ``cursor`` are validated like any documented parameter: a page size that is not
an integer from 1 to 1000, or a cursor this API did not give out, is 400 ``validation_error``
naming the parameter (views that page by hand use ``page_size_of`` for the same rule)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.errors import ValidationFailed

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_size_of(request: Request, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    """``?page_size=``: absent → ``default``; anything but an integer 1..maximum → 400."""
    raw = request.query_params.get("page_size")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= maximum):
        raise ValidationFailed(
            f"page_size: an integer from 1 to {maximum}",
            errors=[{"field": "page_size", "code": "invalid", "message": f"an integer from 1 to {maximum}"}],
        )
    return int(raw)


def invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        "cursor: not a cursor this endpoint gave out",
        errors=[{"field": "cursor", "code": "invalid", "message": "use the next link of the previous page"}],
    )


def page_parameters(*, cursor: bool = True) -> list[dict[str, Any]]:
    """The two query parameters of every list, as the schema documents them."""
    parameters: list[dict[str, Any]] = []
    if cursor:
        parameters.append(
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "opaque: the value in the `next` link of the previous page",
                "schema": {"type": "string"},
            }
        )
    parameters.append(
        {
            "name": "page_size",
            "required": False,
            "in": "query",
            "description": f"results per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        }
    )
    return parameters


# The same two, for views that page by hand and list their parameters with extend_schema.
CURSOR_PARAMETER = OpenApiParameter("cursor", str, description=page_parameters()[0]["description"])
PAGE_SIZE_PARAMETER = OpenApiParameter("page_size", page_parameters()[1]["schema"], description=page_parameters()[1]["description"])


class _Envelope(CursorPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        return page_size_of(request, default=self.page_size or DEFAULT_PAGE_SIZE, maximum=self.max_page_size or MAX_PAGE_SIZE)

    def decode_cursor(self, request: Request) -> Cursor | None:
        try:
            return super().decode_cursor(request)
        except Exception as exc:  # DRF answers 404 "Invalid cursor": a bad parameter is a 400 here
            raise invalid_cursor() from exc

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {"next": {"type": "string", "nullable": True, "format": "uri"}, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return page_parameters()


class CodeCursorPagination(_Envelope):
    ordering = "code"


class IdCursorPagination(_Envelope):
    ordering = "-id"


class AuditCursorPagination(_Envelope):
    ordering = ("-occurred_at", "-id")
