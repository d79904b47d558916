"""Refusals of the services read in the reader's language: the admin (Chinese by default) shows
the code's label and the detail in Chinese; the API keeps its English ``detail`` and stable
``code`` for programs, and answers in Chinese only when the request's Accept-Language asks for it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from apps.catalog import services
from apps.core.errors import Conflict
from apps.core.reasons import error_message

pytestmark = pytest.mark.django_db

HAN = "\u4e00-\u9fff"


def _empty_draft(user):
    return services.release_create_draft(label="2040.01", effective_from=dt.date(2040, 1, 1), user=user, based_on=None)


def _refusal(user) -> Conflict:
    with pytest.raises(Conflict) as caught:
        services.release_submit(release=_empty_draft(user), user=user)
    return caught.value


def test_a_refusal_keeps_its_english_detail_and_reads_chinese_under_zh_hans(catalog_admin):
    refusal = _refusal(catalog_admin)
    assert (refusal.code, refusal.detail) == ("release_empty", "release 2040.01 has no items")
    with translation.override("zh-hans"):
        assert refusal.localized() == "版本 2040.01 没有条目"
        assert error_message(refusal).endswith("版本 2040.01 没有条目")
    with translation.override("en"):
        assert refusal.localized() == "release 2040.01 has no items"


def test_the_api_answers_a_refusal_in_english_unless_the_request_asks_for_chinese(api, catalog_admin):
    _empty_draft(catalog_admin)
    client = api(catalog_admin)
    plain = client.post("/api/v1/releases/2040.01/submit/")
    english = client.post("/api/v1/releases/2040.01/submit/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9,zh;q=0.5")
    chinese = client.post("/api/v1/releases/2040.01/submit/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.8")
    assert [r.status_code for r in (plain, english, chinese)] == [409, 409, 409]
    assert [r.json()["code"] for r in (plain, english, chinese)] == ["release_empty"] * 3
    assert plain.json()["detail"] == english.json()["detail"] == "release 2040.01 has no items"
    assert chinese.json()["detail"] == "版本 2040.01 没有条目"


def test_a_status_inside_a_refusal_is_named_by_its_label_in_chinese(catalog_admin, reviewer):
    from tests.factories import published_release

    release = published_release(label="2040.02", effective_from=dt.date(2040, 2, 1), admin=catalog_admin, reviewer=reviewer, count=2)
    with pytest.raises(Conflict) as caught:
        services.item_delete(release=release, code="X", user=catalog_admin)
    with translation.override("zh-hans"):
        text = caught.value.localized()
    assert caught.value.code == "release_not_draft"
    assert "published" not in text and "已发布" in text
