"""Serializer fields shared by the apps' APIs."""

from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

_PLAIN_INTEGER = re.compile(r"-?[0-9]+")


class FenField(serializers.IntegerField):
    """Money in integer fen: a JSON integer, or a string of ASCII digits. DRF's IntegerField also
    takes 100.0, "1_000", " 100 " and full-width "１００" (Python's int() does); money does not."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, (bool, float)):
            self.fail("invalid")
        if isinstance(data, str) and not _PLAIN_INTEGER.fullmatch(data):
            self.fail("invalid")
        return int(super().to_internal_value(data))
