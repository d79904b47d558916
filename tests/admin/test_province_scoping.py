"""A user bound to one province sees and opens only that province's objects in every admin.

Table-driven over every model registered in the admin (builders.BUILDERS): for each, a Sichuan
object is built; Shanghai's province staff, finance maker and finance checker must not find it
in the changelist, nor open its change or history page (403/404/redirect, never its data).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.urls import reverse

from apps.core.roles import Role
from tests.factories import staff

from .builders import BUILDERS, THIRD_PARTY_APPS, World
from .conftest import PROVINCE_ROLES, VIEWER, login

pytestmark = pytest.mark.django_db

REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)
PROVINCE_OWNED = sorted(label for label, build in BUILDERS.items() if build is not None)


def _admin_url(obj: Any, view: str, *args: Any) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def _listed_pks(response: Any) -> set[Any]:
    return {row.pk for row in response.context["cl"].result_list}


def test_every_registered_admin_model_is_in_the_scoping_table():
    ours = [label for label in REGISTERED if label.split(".")[0] not in THIRD_PARTY_APPS]
    assert sorted(set(ours) - set(BUILDERS)) == []


def test_third_party_admins_are_closed_to_province_roles(provinces):
    users = [staff(role, VIEWER) for role in PROVINCE_ROLES]
    for model in admin.site._registry:
        if model._meta.app_label not in THIRD_PARTY_APPS:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert {login(user).get(url).status_code for user in users} == {403}, model._meta.label


@pytest.mark.parametrize("label", PROVINCE_OWNED)
def test_national_staff_see_the_other_provinces_object(label, provinces, superuser):
    """The control: the object the scoped users must not see is really in the list."""
    obj = BUILDERS[label](World())  # type: ignore[misc]
    response = login(superuser).get(_admin_url(obj, "changelist"))
    assert obj.pk in _listed_pks(response)


@pytest.mark.parametrize("role", PROVINCE_ROLES)
@pytest.mark.parametrize("label", PROVINCE_OWNED)
def test_province_user_cannot_list_another_provinces_object(label, role, provinces):
    obj = BUILDERS[label](World())  # type: ignore[misc]
    response = login(staff(role, VIEWER)).get(_admin_url(obj, "changelist"))
    assert response.status_code == 403 or obj.pk not in _listed_pks(response)


@pytest.mark.parametrize("role", PROVINCE_ROLES)
@pytest.mark.parametrize("label", PROVINCE_OWNED)
def test_province_user_cannot_open_another_provinces_object(label, role, provinces):
    obj = BUILDERS[label](World())  # type: ignore[misc]
    client = login(staff(role, VIEWER))
    pages = [_admin_url(obj, "change", obj.pk), _admin_url(obj, "history", obj.pk), _admin_url(obj, "delete", obj.pk)]
    statuses = {}
    for url in pages:
        response = client.get(url)
        statuses[url] = response.status_code
        if response.status_code == 302:
            assert response.url == reverse("admin:index"), url  # "does not exist" redirect, no data
    assert set(statuses.values()) <= {302, 403, 404}, statuses


def test_province_user_sees_own_provinces_hospital_in_the_list(provinces):
    from apps.hospitals import services

    own = services.hospital_register(code="H31010100001", name="瑞金医院", province_code=VIEWER)
    response = login(staff(Role.PROVINCE_STAFF, VIEWER)).get(reverse("admin:hospitals_hospital_changelist"))
    assert _listed_pks(response) == {own.pk}
