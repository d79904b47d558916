"""``{{ line.reason_code|code_label }}``: the label people read for a stable code (apps/core/reasons.py)."""

from __future__ import annotations

from django import template

from apps.core.reasons import code_label as _code_label
from apps.core.reasons import reason_label as _reason_label

register = template.Library()


@register.filter
def code_label(code: object) -> str:
    return _code_label(str(code)) if code is not None else ""


@register.filter
def memo_label(text: object) -> str:
    """A stored memo or reason as people read it (``reasons.reason_label``)."""
    return _reason_label(str(text)) if text is not None else ""
