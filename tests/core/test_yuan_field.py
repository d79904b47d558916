"""Money people type: yuan with at most two decimals, parsed exactly into integer fen."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import models

from apps.core.forms import YuanField, fen_as_yuan_text, yuan_formfield, yuan_help_text


@pytest.mark.parametrize(
    ("typed", "fen"),
    [("1000.00", 100_000), ("1234.56", 123_456), ("1,234.56", 123_456), ("¥0.01", 1), ("999999999.99", 99_999_999_999), ("7", 700)],
)
def test_yuan_typed_is_stored_as_exact_fen(typed, fen):
    assert YuanField().clean(typed) == fen


@pytest.mark.parametrize("typed", ["10.001", "1e3", "abc", "1.2.3", "0.1 5"])
def test_more_than_two_decimals_or_no_number_is_refused(typed):
    with pytest.raises(ValidationError):
        YuanField().clean(typed)


def test_a_minimum_refuses_zero():
    with pytest.raises(ValidationError):
        YuanField(min_fen=1).clean("0.00")


def test_a_stored_amount_is_shown_in_yuan_in_the_input():
    assert (YuanField().prepare_value(123_456), fen_as_yuan_text(-5), fen_as_yuan_text(100)) == ("1234.56", "-0.05", "1.00")


def test_a_fen_column_gets_a_yuan_field_with_a_yuan_label():
    field = yuan_formfield(models.BigIntegerField(name="amount_fen", verbose_name="amount fen"))
    assert isinstance(field, YuanField) and field.label == "amount (元)"


def test_other_columns_keep_their_field():
    assert yuan_formfield(models.BigIntegerField(name="active_insured")) is None


def test_the_help_text_loses_its_fen_unit():
    assert "(fen)" not in yuan_help_text("Top up when the advance falls below this (fen).")
