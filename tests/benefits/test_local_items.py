"""Transitional local items: mandatory sunset, province scope, the lapse report."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from apps.benefits import services
from apps.benefits.models import LocalItem
from apps.benefits.selectors import local_items_lapsing, province_by_code
from apps.core.errors import Forbidden, ValidationFailed

from .conftest import JAN_2025, SHANGHAI, SICHUAN

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 3, 1)


def save(user, code, sunset, province=SHANGHAI, **extra):
    return services.local_item_save(
        user=user, province=province_by_code(province), code=code, name=f"item {code}", effective_from=JAN_2025, sunset_date=sunset, **extra
    )


def test_local_item_without_sunset_is_refused(sh_staff):
    with pytest.raises(ValidationFailed) as err:
        save(sh_staff, "L1", None)
    assert err.value.errors[0]["field"] == "sunset_date"


def test_database_refuses_sunset_not_after_start(sh_staff):
    item = save(sh_staff, "L1", dt.date(2025, 6, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        LocalItem.objects.filter(pk=item.pk).update(sunset_date=JAN_2025)


def test_replacement_national_code_must_be_valid(sh_staff):
    with pytest.raises(ValidationFailed) as err:
        save(sh_staff, "L1", dt.date(2025, 6, 1), national_code="X123")
    assert err.value.errors[0]["code"] == "code_format"


def test_staff_cannot_keep_another_provinces_local_items(sc_maker):
    with pytest.raises(Forbidden):
        save(sc_maker, "L1", dt.date(2025, 6, 1))


def test_lapse_report_lists_only_the_next_90_days_soonest_first(sh_staff, sc_maker):
    save(sh_staff, "LATER", TODAY + dt.timedelta(days=60))
    save(sh_staff, "SOON", TODAY + dt.timedelta(days=5))
    save(sh_staff, "FAR", TODAY + dt.timedelta(days=90))
    save(sh_staff, "GONE", TODAY - dt.timedelta(days=1))
    save(sc_maker, "SC1", TODAY + dt.timedelta(days=10), province=SICHUAN)
    lapsing = [(i.province.code, i.code) for i in local_items_lapsing(today=TODAY, days=90)]
    assert lapsing == [(SHANGHAI, "SOON"), (SHANGHAI, "LATER"), (SICHUAN, "SC1")]


def test_lapse_report_for_one_province(sh_staff, sc_maker):
    save(sh_staff, "SOON", TODAY + dt.timedelta(days=5))
    save(sc_maker, "SC1", TODAY + dt.timedelta(days=10), province=SICHUAN)
    assert [i.code for i in local_items_lapsing(today=TODAY, province_code=SICHUAN)] == ["SC1"]


def test_saving_an_item_twice_updates_it_and_keeps_history(sh_staff):
    save(sh_staff, "L1", dt.date(2025, 6, 1))
    item = save(sh_staff, "L1", dt.date(2025, 9, 1))
    assert (LocalItem.objects.count(), item.history.count()) == (1, 2)
