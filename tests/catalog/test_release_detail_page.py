"""A release's detail page (its admin change page): the buttons this user may use, each behind a
confirmation step, and the timeline (apps.core.detail)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from apps.catalog import services
from apps.catalog.demo import generate_items
from apps.catalog.models import CatalogRelease
from apps.core.models import AuditEvent
from tests.factories import draft_release

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_review(catalog_admin):
    release = draft_release(label="2031.01", effective_from=dt.date(2031, 1, 1), user=catalog_admin, items=generate_items(3, seed=5))
    return services.release_submit(release=release, user=catalog_admin)


def _page(client, release, query=""):
    return client.get(reverse("admin:catalog_catalogrelease_change", args=[release.pk]) + query).content.decode()


def _buttons(page):
    return {name for name in ("submit", "approve", "reject", "publish") if f'id="action-{name}"' in page}


def test_a_reviewer_sees_approve_and_reject_on_a_release_in_review(client, in_review, reviewer):
    client.force_login(reviewer)
    assert _buttons(_page(client, in_review)) == {"approve", "reject"}


def test_a_reviewer_sees_no_publish_button_on_an_approved_release(client, in_review, reviewer):
    services.release_approve(release=in_review, user=reviewer)
    client.force_login(reviewer)
    assert _buttons(_page(client, in_review)) == {"reject"}


def test_the_catalog_admin_who_submitted_sees_no_approve_and_publishes_once_approved(client, in_review, catalog_admin, reviewer):
    client.force_login(catalog_admin)
    before = _buttons(_page(client, in_review))
    services.release_approve(release=in_review, user=reviewer)
    assert (before, _buttons(_page(client, in_review))) == (set(), {"publish"})


def test_sending_back_stores_the_reason_as_given(client, in_review, reviewer):
    client.force_login(reviewer)
    url = reverse("admin:catalog_catalogrelease_change", args=[in_review.pk])
    client.post(url, {"_detail_action": "reject", "reason": "第3行适应症缺少编码"})
    release = CatalogRelease.objects.get(pk=in_review.pk)
    assert (release.status, release.rejection_reason) == ("draft", "第3行适应症缺少编码")


def test_approval_through_the_confirmation_step_is_recorded_on_the_timeline(client, in_review, reviewer):
    client.force_login(reviewer)
    assert 'id="confirm-action"' in _page(client, in_review, "?action=approve")
    client.post(reverse("admin:catalog_catalogrelease_change", args=[in_review.pk]), {"_detail_action": "approve"})
    page = _page(client, in_review)
    assert AuditEvent.objects.filter(action="release.approved", object_id=str(in_review.pk)).count() == 1
    assert page.count('class="timeline-entry"') >= 3 and "catalog-reviewer" in page


def test_no_bulk_workflow_actions_are_offered_on_the_release_list(client, in_review, catalog_admin):
    client.force_login(catalog_admin)
    response = client.get(reverse("admin:catalog_catalogrelease_changelist"))
    assert response.context["action_form"] is None
