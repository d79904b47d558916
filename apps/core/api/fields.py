"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_PLAIN_INTEGER = re.compile(r"-?[0-9]+")

# The schema pattern of a text that is not white space alone: something other than what
# str.strip() removes (JSON Schema's \s lacks \x1c-\x1f and \x85, so "\S" would call a code of
# those characters valid, which the services strip to blank and refuse).
NOT_ONLY_SPACES = "[^\\s\\x1c-\\x1f\\x85]"


def documented(field: Any, **schema: Any) -> Any:
    """``field`` as it validates, with the OpenAPI schema of what it accepts (a pattern, a
    length), so that a request the schema calls valid is not refused for that field. (A subclass
    carries the schema: serializers deep-copy their fields by re-creating them from their arguments.)"""
    annotated = extend_schema_field({"type": "string", **schema})(type(type(field).__name__, (type(field),), {}))
    return annotated(*field._args, **field._kwargs)


def province_code_field(**kwargs: Any) -> Any:
    from apps.core.codes import province_code_pattern

    return documented(serializers.CharField(**kwargs), pattern=province_code_pattern(), description="GB/T 2260 province code")


def institution_code_field(**kwargs: Any) -> Any:
    from apps.core.codes import institution_code_pattern

    return documented(
        serializers.CharField(**kwargs), pattern=institution_code_pattern(), description="institution code, H or P + 11 digits"
    )


class TextField(serializers.CharField):
    """Text a person typed (a reason, a memo): a JSON string. DRF's CharField also takes 0, 1.5 or
    true and stores "0", "1.5", "True"; a reason that is a number is a client's mistake."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class FenField(serializers.IntegerField):
    """Money in integer fen: a JSON integer, or a string of ASCII digits. DRF's IntegerField also
    takes 100.0, "1_000", " 100 " and full-width "１００" (Python's int() does); money does not."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, (bool, float)):
            self.fail("invalid")
        if isinstance(data, str) and not _PLAIN_INTEGER.fullmatch(data):
            self.fail("invalid")
        return int(super().to_internal_value(data))


def region_code_field(**kwargs: Any) -> Any:
    from apps.core.codes import region_code_pattern

    return documented(serializers.CharField(**kwargs), pattern=region_code_pattern(), description="city / pooling region code (GB/T 2260)")
