"""The server-rendered run and pair reports: counts per kind, net positions, transfers with
links, and province scoping (provincial staff see only pairs involving their province)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.roles import Role
from tests.factories import staff

from .conftest import GD, SC, SH, row


@pytest.fixture
def finished(recon: Any) -> Any:
    """SC→SH: 2 matched, 1 amount mismatch, 1 missing on the home side; GD→SH: 1 matched."""
    recon.load(
        "home", row("A1", home=SC, dest=SH, fund=7000), row("A2", home=SC, dest=SH, fund=3000), row("A3", home=SC, dest=SH, fund=1000)
    )
    recon.load(
        "destination",
        row("A1", home=SC, dest=SH, fund=7000),
        row("A2", home=SC, dest=SH, fund=3000),
        row("A3", home=SC, dest=SH, fund=1500),
        row("A4", home=SC, dest=SH),
    )
    recon.both(row("B1", home=GD, dest=SH, fund=2000))
    return recon.run()


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pair_url(run: Any, home: str, destination: str) -> str:
    return reverse("reconciliation:pair-report", args=[run.pk, home, destination])


def test_run_report_lists_every_pair_with_its_counts_net_positions_and_transfer_links(finished: Any) -> None:
    page = client_for(staff(Role.AUDITOR)).get(reverse("reconciliation:run-report", args=[finished.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert pair_url(finished, SC, SH) in html and pair_url(finished, GD, SH) in html
    assert reverse("admin:pooling_transfer_change", args=[finished.transfer_ids[0]]) in html
    assert "¥120.00" in html  # SH receives 7000 + 3000 + 2000 fen net


def test_report_pages_keep_the_admin_header_with_the_logout_button(finished: Any) -> None:
    client = client_for(staff(Role.AUDITOR))
    for url in (reverse("reconciliation:run-report", args=[finished.pk]), pair_url(finished, SC, SH), reverse("reconciliation:compliance")):
        html = client.get(url).content.decode()
        assert 'id="user-tools"' in html and 'id="logout-form"' in html, url


def test_pair_report_counts_each_discrepancy_kind_of_that_pair(finished: Any) -> None:
    page = client_for(staff(Role.FINANCE_CHECKER, SH)).get(pair_url(finished, SC, SH))
    kinds = dict(page.context["kinds"])
    assert (page.context["pair"]["matched"], kinds["amount_mismatch"], kinds["missing_home"], kinds["duplicate"]) == (2, 2, 1, 0)
    assert {d.settlement_id for d in page.context["discrepancies"]} == {"A3", "A4"}


def test_pair_report_links_the_csv_export_of_the_pair(finished: Any) -> None:
    page = client_for(staff(Role.AUDITOR)).get(pair_url(finished, SC, SH))
    csv = client_for(staff(Role.AUDITOR)).get(page.context["csv_url"])
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert len(lines) == 1 + 3 and all(f",{SC},{SH}," in line for line in lines[1:])


def test_provincial_staff_see_only_the_pairs_involving_their_province(finished: Any) -> None:
    page = client_for(staff(Role.FINANCE_MAKER, GD, username="gd-maker")).get(reverse("reconciliation:run-report", args=[finished.pk]))
    assert [(p["home"], p["destination"]) for p in page.context["pairs"]] == [(GD, SH)]
    assert [code for code, _ in page.context["positions"]] == [GD]


def test_a_pair_outside_the_users_province_answers_404(finished: Any) -> None:
    page = client_for(staff(Role.FINANCE_MAKER, GD, username="gd-maker")).get(pair_url(finished, SC, SH))
    assert page.status_code == 404


def test_provincial_csv_export_leaves_out_other_provinces_pairs(finished: Any) -> None:
    url = reverse("reconciliation-run-discrepancies", args=[finished.pk])
    csv = client_for(staff(Role.FINANCE_MAKER, GD, username="gd-maker")).get(url)
    assert b"".join(csv.streaming_content).decode().splitlines()[1:] == []


def test_staff_without_a_finance_or_audit_role_are_refused(finished: Any) -> None:
    page = client_for(staff(Role.CATALOG_REVIEWER)).get(reverse("reconciliation:run-report", args=[finished.pk]))
    assert page.status_code == 403


def test_anonymous_visitors_are_sent_to_the_login_page(finished: Any) -> None:
    page = Client().get(reverse("reconciliation:run-report", args=[finished.pk]))
    assert page.status_code == 302 and "login" in page["Location"]


def test_the_run_list_in_admin_links_each_run_to_its_report(finished: Any) -> None:
    page = client_for(staff(Role.AUDITOR)).get(reverse("admin:reconciliation_reconciliationrun_changelist"))
    assert reverse("reconciliation:run-report", args=[finished.pk]) in page.content.decode()
