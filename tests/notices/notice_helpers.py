"""Helpers for the notice tests: hospitals with endpoints, publishing releases, a principal."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.principals import HospitalPrincipal
from apps.hospitals import services
from apps.hospitals.models import Hospital
from apps.notices import services as notices
from apps.notices.models import WebhookEndpoint
from tests.factories import draft_release, publish, published_release


def hospital(n: int = 1, province: str = "310000") -> Hospital:
    code = f"H{province[:2]}0101{n:05d}"
    return services.hospital_register(code=code, name=f"医院 {code}", province_code=province)


def with_endpoint(h: Hospital, url: str) -> tuple[WebhookEndpoint, str]:
    return notices.endpoint_create(hospital=h, url=url)


def principal(h: Hospital) -> HospitalPrincipal:
    return HospitalPrincipal(hospital_id=h.pk, institution_code=h.code, province_code=h.province.code)


# Export files live under a MEDIA_ROOT shared with parallel test runs: unique labels per process.
SUFFIX = f"-p{os.getpid()}"


def label(n: int) -> str:
    return f"2026.{n:02d}{SUFFIX}"


def release(n: int, *, admin: Any, reviewer: Any, based_on: CatalogRelease | None = None, items: Any = None) -> CatalogRelease:
    return published_release(
        label=label(n),
        effective_from=dt.date(2026, 1, 1) + dt.timedelta(days=31 * n),
        admin=admin,
        reviewer=reviewer,
        items=items if items is not None else list(generate_items(5, seed=n)),
        based_on=based_on,
    )


__all__ = ["draft_release", "publish"]
