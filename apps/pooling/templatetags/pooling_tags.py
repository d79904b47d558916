"""Template filters of the pooling pages: money in yuan."""

from __future__ import annotations

from django import template

from apps.core.money import format_yuan

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """Integer fen as yuan (¥1,234.56); nothing for None (no figure yet)."""
    return "" if fen is None else format_yuan(int(fen))
