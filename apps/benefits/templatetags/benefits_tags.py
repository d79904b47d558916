"""Pages show money in yuan and reason codes with their labels for people."""

from __future__ import annotations

from typing import Any

from django import template

from apps.core.money import format_yuan
from apps.core.reasons import code_label

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """Integer fen as yuan (¥1,234.56); blank for None."""
    return "" if fen is None else format_yuan(int(fen))


@register.filter
def reason_label(code: str) -> Any:
    """The translated label of a pre-check reason code (the code itself when unknown)."""
    return code_label(code)


@register.filter
def lookup(mapping: dict[Any, Any], key: Any) -> Any:
    return mapping.get(key) if mapping else None
