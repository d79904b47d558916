"""Form fields people type money into: yuan with at most two decimals (``1234.56`` or
``1,234.56``), parsed exactly into integer fen by ``apps.core.money`` (never through float)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .money import FEN_PER_YUAN, MoneyError, yuan_to_fen

# 1234.56, 1,234.56, -5, 0.5: digits (thousands commas allowed), then at most two decimals.
YUAN_TYPED = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")

# Amounts from this many fen on ask a second, explicit confirmation (¥1,000,000.00).
LARGE_AMOUNT_FEN = 1_000_000 * FEN_PER_YUAN


def fen_as_yuan_text(fen: int) -> str:
    """12345 -> '123.45' (what a yuan input shows for a stored amount; no ¥, no thousands commas)."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{yuan}.{rest:02d}"


class YuanField(forms.CharField):
    """Typed in yuan, cleaned to integer fen. ``min_fen`` refuses smaller amounts (e.g. 1 for
    'positive'); more than two decimals, or anything that is not a number, is refused."""

    default_error_messages = {
        "invalid": _("Enter an amount in yuan with at most two decimals, e.g. 1234.56."),
        "too_small": _("The amount must be at least ¥%(minimum)s."),
    }

    def __init__(self, *, min_fen: int | None = None, **kwargs: Any) -> None:
        self.min_fen = min_fen
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", "class": "yuan-input"}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return fen_as_yuan_text(value)
        return value

    def to_python(self, value: Any) -> int | None:  # type: ignore[override]
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        plain = str(text).replace("¥", "").replace("￥", "").strip()
        if not YUAN_TYPED.match(plain):  # no exponents, spaces or stray signs: what people write
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            fen = yuan_to_fen(plain)
        except MoneyError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        if self.min_fen is not None and fen < self.min_fen:
            raise ValidationError(self.error_messages["too_small"], code="too_small", params={"minimum": fen_as_yuan_text(self.min_fen)})
        return fen


def yuan_label(verbose_name: Any) -> str:
    """'amount fen' -> 'amount (元)': the stored unit leaves the label, the unit people type joins it."""
    name = str(verbose_name)
    for suffix in (" fen", " (fen)", "（分）", "(分)"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return f"{name} (元)"


# How a model's help text names the stored unit, in English and as translated.
_FEN_MARKS = (" (fen)", "(fen)", "（分）", "(分)", "(fen, ")


def yuan_help_text(help_text: Any) -> str:
    """The model's help text (translated) without its '(fen)', plus how to type the amount."""
    text = str(help_text or "")
    for mark in _FEN_MARKS:
        text = text.replace(mark, "(" if mark.endswith(", ") else "")
    typed = str(_("In yuan with at most two decimals, e.g. 1234.56."))
    return f"{text} {typed}".strip()


def yuan_formfield(db_field: models.Field, **kwargs: Any) -> YuanField | None:  # type: ignore[type-arg]
    """A YuanField for a model's integer ``*_fen`` column, else None (keep the default field)."""
    if not isinstance(db_field, models.BigIntegerField | models.IntegerField) or not db_field.name.endswith("_fen"):
        return None
    return YuanField(
        label=yuan_label(db_field.verbose_name),
        required=not (db_field.blank or db_field.null),
        help_text=yuan_help_text(db_field.help_text),
        **kwargs,
    )
