"""The discrepancy admin pages: a list with filters, a detail page with the timeline and the
actions this user may take, each behind a confirmation step with a required reason."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation

from apps.core.roles import Role
from apps.reconciliation import services
from apps.reconciliation.models import Discrepancy
from tests.factories import staff

from .conftest import SC, SH, row


@pytest.fixture
def missing(recon_default_plan: Any) -> Discrepancy:
    recon = recon_default_plan
    recon.load("destination", row("S9", fund=2000))
    recon.run()
    return Discrepancy.objects.get(settlement_id="S9", kind="missing_home")


def _page(client: Any, user: Any, d: Discrepancy) -> str:
    client.force_login(user)
    return client.get(reverse("admin:reconciliation_discrepancy_change", args=[d.pk])).content.decode()


def test_the_detail_page_offers_each_user_the_steps_she_may_take(missing: Discrepancy, client: Any) -> None:
    sh_maker, sc_checker = staff(Role.FINANCE_MAKER, SH, username="pg-sh-maker"), staff(Role.FINANCE_CHECKER, SC, username="pg-sc-checker")
    page = _page(client, sh_maker, missing)
    assert 'data-action="dispute"' in page and 'data-action="resolve"' in page and 'data-action="approve"' not in page
    services.discrepancy_resolve(discrepancy=missing, user=sh_maker, resolution="accept_destination", reason="补报")
    assert 'data-action="approve"' not in _page(client, sh_maker, missing)
    page = _page(client, sc_checker, missing)
    assert 'data-action="approve"' in page and "<td>补报</td>" in page
    # The timeline names the step and the resolution by their labels, in the reader's language,
    # never by the stored codes.
    client.force_login(sc_checker)
    url = reverse("admin:reconciliation_discrepancy_change", args=[missing.pk])
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    timeline = chinese[chinese.index('id="discrepancy-timeline"') :]
    with translation.override("zh-hans"):
        proposed, destination = str(Discrepancy.State.RESOLUTION_PROPOSED.label), str(Discrepancy.Resolution.ACCEPT_DESTINATION.label)
    assert proposed in timeline and destination in timeline
    assert "resolution_proposed" not in timeline and "accept_destination" not in timeline and "resolution proposed" not in timeline


def test_an_action_needs_its_confirmation_and_a_reason_then_shows_in_the_timeline(missing: Discrepancy, client: Any) -> None:
    sh_maker = staff(Role.FINANCE_MAKER, SH, username="pg-sh-maker-2")
    client.force_login(sh_maker)
    url = reverse("admin:reconciliation_discrepancy_act", args=[missing.pk, "resolve"])
    assert (
        client.post(url, {"resolution": "agreed_amount", "amount_yuan": "¥15.50", "reason": "协商"}).status_code == 200
    )  # no confirmation
    assert client.post(url, {"resolution": "agreed_amount", "amount_yuan": "15.50", "reason": "", "confirm": "on"}).status_code == 200
    missing.refresh_from_db()
    assert missing.state == "open"
    done = client.post(url, {"resolution": "agreed_amount", "amount_yuan": "¥15.50", "reason": "协商", "confirm": "on"})
    assert done.status_code == 302
    missing.refresh_from_db()
    assert (missing.state, missing.amount_fen) == ("resolution_proposed", 1550)


def test_another_provinces_discrepancy_does_not_open(missing: Discrepancy, client: Any) -> None:
    client.force_login(staff(Role.FINANCE_MAKER, "440000", username="pg-gd-maker"))
    assert client.get(reverse("admin:reconciliation_discrepancy_change", args=[missing.pk])).status_code == 404
    assert client.get(reverse("admin:reconciliation_discrepancy_act", args=[missing.pk, "dispute"])).status_code == 404


def test_the_list_filters_by_state_and_kind(missing: Discrepancy, client: Any) -> None:
    client.force_login(staff(Role.AUDITOR, username="pg-auditor"))
    listed = reverse("admin:reconciliation_discrepancy_change", args=[missing.pk])  # not "S9": a CSRF token may hold it
    page = client.get(reverse("admin:reconciliation_discrepancy_changelist"), {"state": "open", "kind": "missing_home"}).content.decode()
    assert f'href="{listed}' in page
    assert (
        f'href="{listed}' not in client.get(reverse("admin:reconciliation_discrepancy_changelist"), {"state": "resolved"}).content.decode()
    )


def test_a_money_fields_values_and_its_name_read_in_yuan(recon_default_plan: Any, client: Any) -> None:
    recon = recon_default_plan
    recon.load("home", row("S7", fund=7000))
    recon.load("destination", row("S7", fund=7250))
    recon.run()
    mismatch = Discrepancy.objects.get(settlement_id="S7", kind="amount_mismatch", field="fund_fen")
    client.force_login(staff(Role.AUDITOR, username="pg-auditor-yuan"))
    for page in (
        client.get(reverse("admin:reconciliation_discrepancy_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode(),
        client.get(reverse("admin:reconciliation_discrepancy_change", args=[mismatch.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode(),
    ):
        assert "（分）" not in page and "(元)" in page
    detail = page
    assert "¥70.00" in detail and "¥72.50" in detail
