"""``{% portal_header_links %}``: the admin header's links this user may open (apps.core.navigation)."""

from __future__ import annotations

from typing import Any

from django import template

from apps.core.navigation import HEADER_PAGES, links

register = template.Library()


@register.simple_tag(takes_context=True)
def portal_header_links(context: Any) -> list[dict[str, str]]:
    request = context.get("request")
    return links(request, HEADER_PAGES) if request is not None else []
