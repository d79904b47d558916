"""The discrepancy lifecycle: open → disputed → resolution proposed → approved by a checker of
the other province → resolved (nets in the next run) or written off (never nets); PostgreSQL
keeps the transitions; reruns carry the work over."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from apps.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from apps.core.roles import Role
from apps.core.services import token_issue
from apps.reconciliation import services
from apps.reconciliation.models import Discrepancy
from tests.factories import staff

from .conftest import GD, SC, SH, row


class People:
    def __init__(self) -> None:
        self.sc_maker = staff(Role.FINANCE_MAKER, SC, username="life-sc-maker")
        self.sc_checker = staff(Role.FINANCE_CHECKER, SC, username="life-sc-checker")
        self.sh_maker = staff(Role.FINANCE_MAKER, SH, username="life-sh-maker")
        self.sh_checker = staff(Role.FINANCE_CHECKER, SH, username="life-sh-checker")
        self.gd_checker = staff(Role.FINANCE_CHECKER, GD, username="life-gd-checker")


@pytest.fixture
def month(recon_default_plan: Any) -> Any:
    """S1 matches (fund 70.00), S2's fund share differs (home 50.00, destination 55.00), S3 is missing at home."""
    recon = recon_default_plan
    recon.load("home", row("S1"), row("S2", fund=5000))
    recon.load("destination", row("S1"), row("S2", fund=5500), row("S3", fund=2000))
    recon.first = recon.run()
    recon.people = People()
    return recon


def found(run: Any, kind: str, sid: str, field: str = "") -> Discrepancy:
    return Discrepancy.objects.get(run=run, kind=kind, settlement_id=sid, field=field)


def test_a_discrepancy_carries_the_claims_hospital_drg_group_and_both_fund_shares(month: Any) -> None:
    d = found(month.first, "amount_mismatch", "S2", "fund_fen")
    assert (d.hospital_code, d.drg_group, d.home_fund_fen, d.destination_fund_fen, d.state) == (f"H{SH}001", "DRG1", 5000, 5500, "open")


def test_a_resolution_needs_a_finance_checker_of_the_other_province(month: Any) -> None:
    p = month.people
    d = services.discrepancy_resolve(
        discrepancy=found(month.first, "amount_mismatch", "S2", "fund_fen"),
        user=p.sc_maker,
        resolution="accept_destination",
        reason="核对病历",
    )
    assert (d.state, d.amount_fen) == ("resolution_proposed", 5500)
    with pytest.raises(Conflict) as own:
        services.discrepancy_approve(discrepancy=d, user=p.sc_maker)
    assert own.value.code == "same_user_cannot_approve"  # before the role check: she is no checker
    with pytest.raises(Forbidden) as same_province:
        services.discrepancy_approve(discrepancy=d, user=p.sc_checker)
    assert same_province.value.code == "wrong_province"
    with pytest.raises(NotFound):
        services.discrepancy_approve(discrepancy=d, user=p.gd_checker)
    with pytest.raises(Forbidden):
        services.discrepancy_approve(discrepancy=d, user=p.sh_maker)
    approved = services.discrepancy_approve(discrepancy=d, user=p.sh_checker)
    assert (approved.state, approved.approved_by, approved.proposed_by) == ("resolved", p.sh_checker, p.sc_maker)
    with pytest.raises(Conflict) as again:
        services.discrepancy_approve(discrepancy=d, user=p.sh_checker)
    assert again.value.code == "discrepancy_not_proposed"


def test_a_resolved_amount_nets_in_the_next_run_with_a_link_back_and_only_once(month: Any) -> None:
    p = month.people
    assert month.first.summary["net_positions"] == {SC: -7000, SH: 7000}
    d = found(month.first, "missing_home", "S3")
    services.discrepancy_resolve(discrepancy=d, user=p.sh_maker, resolution="accept_destination", reason="参保地漏报")
    services.discrepancy_approve(discrepancy=d, user=p.sc_checker)
    second = month.run()
    assert second.summary["net_positions"] == {SC: -9000, SH: 9000}
    assert [(a["discrepancy"], a["amount_fen"]) for a in second.summary["adjustments"]] == [(d.pk, 2000)]
    d.refresh_from_db()
    assert d.netted_in_run == second and d.run == second  # carried over, same row
    third = month.run()  # a rerun of the period nets it again in place of the superseded run, not twice
    assert third.summary["net_positions"] == {SC: -9000, SH: 9000}
    other_month = services.reconciliation_run(period="2026-04", user=month.maker)
    assert other_month.summary["adjustments"] == []


def test_a_written_off_amount_never_nets(month: Any) -> None:
    p = month.people
    d = found(month.first, "missing_home", "S3")
    services.discrepancy_dispute(discrepancy=d, user=p.sc_checker, reason="未在本省参保")
    services.discrepancy_resolve(discrepancy=d, user=p.sc_maker, resolution="write_off", reason="核销")
    assert services.discrepancy_approve(discrepancy=d, user=p.sh_checker).state == "written_off"
    second = month.run()
    assert second.summary["net_positions"] == {SC: -7000, SH: 7000} and second.summary["adjustments"] == []


def test_an_agreed_amount_needs_whole_fen_and_a_reason(month: Any) -> None:
    p = month.people
    d = found(month.first, "amount_mismatch", "S2", "fund_fen")
    for resolution, amount, reason in (
        ("agreed_amount", None, "x"),
        ("agreed_amount", 12.5, "x"),
        ("agreed_amount", -1, "x"),
        ("accept_home", 100, "x"),
        ("agreed_amount", 5200, ""),
        ("pay_me", None, "x"),
    ):
        with pytest.raises(ValidationFailed):
            services.discrepancy_resolve(discrepancy=d, user=p.sh_maker, resolution=resolution, amount_fen=amount, reason=reason)
    d = services.discrepancy_resolve(discrepancy=d, user=p.sh_maker, resolution="agreed_amount", amount_fen=5200, reason="协商")
    assert (d.amount_fen, d.proposed_province) == (5200, SH)


def test_a_claim_is_paid_by_one_resolution_only(month: Any) -> None:
    p = month.people
    services.discrepancy_resolve(
        discrepancy=found(month.first, "amount_mismatch", "S2", "fund_fen"), user=p.sc_maker, resolution="accept_home", reason="a"
    )
    with pytest.raises(Conflict) as twice:
        services.discrepancy_resolve(
            discrepancy=found(month.first, "amount_mismatch", "S2", "patient_fen"),
            user=p.sh_maker,
            resolution="accept_destination",
            reason="b",
        )
    assert twice.value.code == "claim_already_resolved"
    assert (
        services.discrepancy_resolve(
            discrepancy=found(month.first, "amount_mismatch", "S2", "patient_fen"), user=p.sh_maker, resolution="write_off", reason="c"
        ).state
        == "resolution_proposed"
    )


def test_disputing_a_proposal_withdraws_it_and_national_users_are_no_party(month: Any) -> None:
    p = month.people
    d = found(month.first, "missing_home", "S3")
    services.discrepancy_resolve(discrepancy=d, user=p.sh_maker, resolution="accept_destination", reason="a")
    d = services.discrepancy_dispute(discrepancy=d, user=p.sc_checker, reason="不认可")
    assert (d.state, d.resolution, d.amount_fen, d.proposed_by) == ("disputed", "", None, None)
    with pytest.raises(Forbidden) as national:
        services.discrepancy_dispute(discrepancy=d, user=month.maker, reason="x")
    assert national.value.code == "wrong_province"
    with pytest.raises(Conflict):
        services.discrepancy_dispute(discrepancy=d, user=p.sc_checker, reason="again")


def test_a_rerun_carries_worked_discrepancies_over_and_a_correction_drops_open_ones(month: Any) -> None:
    p = month.people
    disputed = services.discrepancy_dispute(discrepancy=found(month.first, "missing_home", "S3"), user=p.sh_maker, reason="请补报")
    second = month.run()
    disputed.refresh_from_db()
    assert (disputed.run, disputed.state) == (second, "disputed")
    assert second.discrepancies.filter(settlement_id="S3").count() == 1
    assert not month.first.discrepancies.exists()  # the open ones were found again as new rows
    # The timeline shows the step by the row's state and the reason as typed, not the stored
    # English prefix ("disputed: 请补报").
    timeline = [(step["state"], step["why"]) for step in services_timeline(disputed)]
    assert timeline == [("disputed", "请补报")]


def services_timeline(d: Discrepancy) -> list[dict[str, Any]]:
    from apps.reconciliation.selectors import discrepancy_timeline

    return discrepancy_timeline(discrepancy=d)


def test_coding_against_a_release_not_in_force_is_only_written_off(recon_default_plan: Any) -> None:
    recon = recon_default_plan
    recon.both(row("S1", label="2026.01"))
    run = recon.run()
    d = Discrepancy.objects.get(run=run, kind="release_not_in_force", side="home")
    with pytest.raises(ValidationFailed):
        services.discrepancy_resolve(
            discrepancy=d, user=staff(Role.FINANCE_MAKER, SC, username="rn-maker"), resolution="accept_home", reason="x"
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reconciliation_discrepancy SET state = 'open', resolution = '', amount_fen = NULL WHERE id = %s",
        "UPDATE reconciliation_discrepancy SET amount_fen = 1 WHERE id = %s",
        "DELETE FROM reconciliation_discrepancy WHERE id = %s",
    ],
)
def test_the_database_keeps_a_resolved_discrepancy_as_it_was_approved(month: Any, statement: str) -> None:
    p = month.people
    d = found(month.first, "missing_home", "S3")
    services.discrepancy_resolve(discrepancy=d, user=p.sh_maker, resolution="accept_destination", reason="a")
    services.discrepancy_approve(discrepancy=d, user=p.sc_checker)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [d.pk])


def test_the_database_refuses_to_skip_the_proposal(month: Any) -> None:
    d = found(month.first, "missing_home", "S3")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE reconciliation_discrepancy SET state = 'resolved', resolution = 'accept_home', amount_fen = 0 WHERE id = %s", [d.pk]
        )


def test_the_database_refuses_an_approver_who_proposed(month: Any) -> None:
    p = month.people
    d = found(month.first, "missing_home", "S3")
    services.discrepancy_resolve(discrepancy=d, user=p.sh_maker, resolution="write_off", reason="a")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reconciliation_discrepancy SET state = 'written_off', approved_by_id = proposed_by_id WHERE id = %s", [d.pk])


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user)}")
    return client


def test_the_lifecycle_over_the_api(month: Any) -> None:
    p = month.people
    sh = _client(p.sh_maker)
    listed = sh.get(
        f"/api/v1/reconciliation/runs/{month.first.pk}/discrepancies/", {"kind": "missing_home", "hospital": f"H{SH}001"}
    ).json()
    assert listed["next"] is None and len(listed["results"]) == 1
    item = listed["results"][0]
    assert {k: item[k] for k in ("settlement_id", "home_fen", "destination_fen", "state", "hospital_code")} == {
        "settlement_id": "S3",
        "home_fen": None,
        "destination_fen": 2000,
        "state": "open",
        "hospital_code": f"H{SH}001",
    }
    url = f"/api/v1/discrepancies/{item['id']}"
    assert sh.post(f"{url}/dispute/", {"reason": "请参保地核对"}, format="json").json()["state"] == "disputed"
    proposed = _client(p.sc_maker).post(
        f"{url}/resolve/", {"resolution": "agreed_amount", "amount_fen": 1500, "reason": "协商一致"}, format="json"
    )
    assert proposed.status_code == 200 and proposed.json()["amount_fen"] == 1500
    assert _client(p.sc_maker).post(f"{url}/approve/", {}, format="json").json()["code"] == "same_user_cannot_approve"
    assert _client(p.sc_checker).post(f"{url}/approve/", {}, format="json").json()["code"] == "wrong_province"
    assert _client(p.gd_checker).post(f"{url}/approve/", {}, format="json").status_code == 404
    done = _client(p.sh_checker).post(f"{url}/approve/", {}, format="json")
    assert done.status_code == 200 and done.json()["state"] == "resolved"
    gd = _client(staff(Role.FINANCE_MAKER, GD, username="life-gd-maker"))
    assert gd.get(f"/api/v1/reconciliation/runs/{month.first.pk}/discrepancies/").json()["results"] == []


def test_a_proposed_resolution_mails_the_other_provinces_checkers_once_per_proposal(month: Any) -> None:
    """Issue 18's notifications: whoever can approve is told, nobody else; a new proposal after a
    dispute is a new occasion."""
    from apps.core.models import OutgoingEmail

    p = month.people
    for user in (p.sc_maker, p.sc_checker, p.sh_maker, p.sh_checker, p.gd_checker):
        user.email = f"{user.username}@example.org"
        user.save(update_fields=["email"])
    d = found(month.first, "amount_mismatch", "S2", "fund_fen")
    services.discrepancy_resolve(discrepancy=d, user=p.sc_maker, resolution="accept_home", reason="以参保地为准")
    first = sorted(OutgoingEmail.objects.filter(key__startswith=f"discrepancy.resolution:{d.pk}:").values_list("recipient", flat=True))
    services.discrepancy_dispute(discrepancy=d, user=p.sh_checker, reason="金额不符")
    services.discrepancy_resolve(discrepancy=d, user=p.sc_maker, resolution="agreed_amount", amount_fen=5200, reason="协商一致")
    keys = sorted(OutgoingEmail.objects.filter(key__startswith=f"discrepancy.resolution:{d.pk}:").values_list("key", "recipient"))
    assert first == ["life-sh-checker@example.org"]
    assert [recipient for _key, recipient in keys] == ["life-sh-checker@example.org"] * 2 and len({k for k, _r in keys}) == 2
