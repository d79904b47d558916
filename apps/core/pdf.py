"""PDF documents (statements) rendered from a Django template by WeasyPrint.

WeasyPrint lays out HTML/CSS with Pango, so Chinese text needs a CJK font installed on the
machine: Debian's ``fonts-noto-cjk`` (``scripts/ensure-browser`` installs it). The style sheet
names Noto Sans CJK SC first; fontconfig falls back to any other CJK font it knows."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

PDF_CONTENT_TYPE = "application/pdf"
# Statements are documents people sign in the provinces: Chinese whatever the caller's language.
STATEMENT_LANGUAGE = "zh-hans"


def render_pdf(*, template: str, context: dict[str, Any], language: str = STATEMENT_LANGUAGE) -> bytes:
    """Render ``template`` with ``context`` in ``language`` and lay it out as PDF bytes."""
    from weasyprint import HTML  # imported here: loading Pango costs ~0.3 s, only PDF paths pay it

    with translation.override(language):
        html = render_to_string(template, context)
    return bytes(HTML(string=html).write_pdf())
