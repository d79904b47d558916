"""Factories for tests: users of each role, releases with items (through the services)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import factory
from django.contrib.auth import get_user_model

from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.services import staff_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True


def staff(role: str, province: str = "", username: str | None = None) -> Any:
    """A staff user with one role (and province for provincial roles)."""
    name = username or f"{role}-{province or 'all'}-{get_user_model().objects.count() + 1}"
    return staff_create(username=name, role=role, province_code=province, password="correct horse battery staple")


def draft_release(
    *, label: str, effective_from: dt.date, user: Any, items: Iterable[dict[str, Any]] = (), based_on: CatalogRelease | None = None
) -> CatalogRelease:
    release = catalog.release_create_draft(label=label, effective_from=effective_from, user=user, based_on=based_on)
    for item in items:
        catalog.item_put(release=release, data=item, user=user)
    return release


def publish(release: CatalogRelease, *, admin: Any, reviewer: Any) -> CatalogRelease:
    catalog.release_submit(release=release, user=admin, confirm_removals=True)
    catalog.release_approve(release=release, user=reviewer)
    return catalog.release_publish(release=release, user=admin)


def published_release(
    *,
    label: str,
    effective_from: dt.date,
    admin: Any,
    reviewer: Any,
    items: Iterable[dict[str, Any]] | None = None,
    count: int = 20,
    based_on: CatalogRelease | None = None,
) -> CatalogRelease:
    rows = list(items) if items is not None else list(generate_items(count, seed=hash(label) % 1000))
    release = draft_release(label=label, effective_from=effective_from, user=admin, items=rows, based_on=based_on)
    return publish(release, admin=admin, reviewer=reviewer)
