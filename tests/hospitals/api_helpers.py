"""Helpers for the hospital API tests: hospitals, keys and clients that send real credentials."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from apps.hospitals import services
from apps.hospitals.models import Hospital


def hospital(code: str = "H31010100001", province: str = "310000", name: str = "", **extra: Any) -> Hospital:
    return services.hospital_register(code=code, name=name or f"医院 {code}", province_code=province, **extra)


def issue_key(h: Hospital) -> str:
    return services.api_key_issue(hospital=h)[1]


def key_client(raw_key: str) -> APIClient:
    """A client that authenticates the way a hospital system does: the Authorization header."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def hospital_client(code: str = "H31010100001", province: str = "310000") -> tuple[Hospital, str, APIClient]:
    h = hospital(code, province)
    raw = issue_key(h)
    return h, raw, key_client(raw)
