"""``?q=`` on item lists (the hospitals' published items and the staff list of any release): the
same ``{next, results}`` envelope and item shape as the unfiltered list, ordered by relevance
(apps.catalog.search) instead of code, with a cursor of its own in ``next``."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from apps.catalog import search
from apps.core.api.pagination import page_size_of
from apps.core.errors import ValidationFailed

Q_PARAMETER = OpenApiParameter(
    "q",
    str,
    description="search: code prefix, Chinese substring of name / generic name / manufacturer, or pinyin initials "
    "(amxl finds 阿莫西林); best match first (exact code, code prefix, name prefix, name substring, manufacturer)",
)


def wants_search(request: Request) -> bool:
    return "q" in request.query_params


def search_response(request: Request, *, release_id: int, release_label: str, kind: str, category: str) -> HttpResponse:
    """One page of search results as ``{next, results}`` with the list's item shape. The items
    arrive rendered as JSON from PostgreSQL and are passed through, not parsed and re-rendered.
    Raises ValidationFailed (400) for an over-long query or a foreign cursor."""
    try:
        page = search.items_search(
            release_id=release_id,
            release_label=release_label,
            q=request.query_params.get("q", ""),
            kind=kind,
            category=category,
            cursor=request.query_params.get("cursor", ""),
            size=page_size_of(request),  # as the plain list: 1..1000, else 400
        )
    except search.BadSearch as exc:
        raise ValidationFailed(f"{exc.field}: {exc}", errors=[{"field": exc.field, "code": "invalid", "message": str(exc)}]) from None
    next_url = None
    if page.next_cursor:
        params = [(k, v) for k, v in request.query_params.items() if k != "cursor"] + [("cursor", page.next_cursor)]
        next_url = request.build_absolute_uri(f"{request.path}?{urlencode(params)}")
    return HttpResponse('{"next":' + json.dumps(next_url) + ',"results":' + page.items_json + "}", content_type="application/json")
