"""Settlement batches owned by a province: corrections replace, withdrawals remove, runs read
active batches only, and neither a superseded nor a withdrawn batch comes back."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from apps.core.errors import Conflict, NotFound, ValidationFailed
from apps.core.models import AuditAction, AuditEvent
from apps.core.roles import Role
from apps.core.services import token_issue
from apps.reconciliation import services
from apps.reconciliation.models import SettlementBatch
from tests.factories import staff

from .conftest import GD, PERIOD, SC, SH, csv_bytes, row


def kinds(run: Any) -> list[tuple[str, str, str]]:
    return sorted(run.discrepancies.values_list("kind", "settlement_id", "field"))


def test_a_correction_between_two_runs_matches_the_corrected_claim_instead_of_a_duplicate(recon: Any) -> None:
    home = recon.load("home", row("S1"), row("S2", fund=5000))
    recon.load("destination", row("S1"), row("S2", fund=5500))
    first = recon.run()
    assert kinds(first) == [("amount_mismatch", "S2", "fund_fen"), ("amount_mismatch", "S2", "patient_fen")]
    corrected = services.settlement_import(
        period=PERIOD, side="home", file=io.BytesIO(csv_bytes(row("S1"), row("S2", fund=5500))), user=recon.maker, replaces=home["batch"]
    )
    second = recon.run()
    assert kinds(second) == []
    assert second.summary["counts"]["matched"] == 2 and second.summary["counts"]["duplicate"] == 0
    assert second.summary["net_positions"] == {SC: -12500, SH: 12500}
    old, new = SettlementBatch.objects.get(pk=home["batch"]), SettlementBatch.objects.get(pk=corrected["batch"])
    assert (old.state, new.state, new.replaces_id, new.province) == ("superseded", "active", old.pk, SC)


def test_a_withdrawal_between_two_runs_turns_its_claims_into_missing_ones(recon: Any) -> None:
    recon.load("home", row("S1"), row("S2"))
    destination = recon.load("destination", row("S1"), row("S2"))
    assert kinds(recon.run()) == []
    services.settlement_batch_withdraw(batch=SettlementBatch.objects.get(pk=destination["batch"]), user=recon.maker, reason="文件有误")
    second = recon.run()
    assert kinds(second) == [("missing_destination", "S1", ""), ("missing_destination", "S2", "")]
    assert second.transfer_ids == [] and second.summary["net_positions"] == {}


def test_without_replaces_a_corrected_re_upload_is_still_a_duplicate(recon: Any) -> None:
    recon.both(row("S1"))
    recon.load("home", row("S1", fund=6000))
    assert ("duplicate", "S1", "") in kinds(recon.run())


def test_a_national_file_becomes_one_batch_per_province_of_its_side(recon: Any) -> None:
    result = recon.load("destination", row("S1", dest=SH), row("S2", dest=GD), row("S3", dest=SH))
    batches = SettlementBatch.objects.filter(pk__in=result["batches"]).order_by("province")
    assert [(b.province, b.rows, b.side) for b in batches] == [(SH, 2, "destination"), (GD, 1, "destination")]
    events = AuditEvent.objects.filter(action=AuditAction.SETTLEMENTS_IMPORTED)
    assert events.count() == 1 and sorted(events.get().detail["batches"]) == sorted(result["batches"])


def test_a_province_bound_maker_replaces_only_her_own_provinces_active_batch(recon: Any) -> None:
    sh_maker = staff(Role.FINANCE_MAKER, SH, username="sh-maker-b")
    sc_batch = recon.load("home", row("S1"))["batch"]
    with pytest.raises(NotFound):
        services.settlement_import(period=PERIOD, side="home", file=io.BytesIO(csv_bytes(row("S1"))), user=sh_maker, replaces=sc_batch)
    services.settlement_import(
        period=PERIOD, side="home", file=io.BytesIO(csv_bytes(row("S1", fund=1))), user=recon.maker, replaces=sc_batch
    )
    with pytest.raises(Conflict) as again:
        services.settlement_import(period=PERIOD, side="home", file=io.BytesIO(csv_bytes(row("S1"))), user=recon.maker, replaces=sc_batch)
    assert again.value.code == "batch_not_active"
    with pytest.raises(ValidationFailed):
        services.settlement_import(
            period="2026-04", side="home", file=io.BytesIO(csv_bytes(row("S1"))), user=recon.maker, replaces=sc_batch
        )


def test_a_replacement_holding_rows_of_another_province_is_refused_row_by_row(recon: Any) -> None:
    from apps.core.bulk import BulkFileRejected

    batch = recon.load("home", row("S1"))["batch"]
    with pytest.raises(BulkFileRejected) as caught:
        services.settlement_import(
            period=PERIOD, side="home", file=io.BytesIO(csv_bytes(row("S1"), row("S2", home=GD))), user=recon.maker, replaces=batch
        )
    assert [(e["line"], e["code"]) for e in caught.value.errors] == [(3, "wrong_province")]
    assert SettlementBatch.objects.get(pk=batch).state == "active"


def test_a_withdrawal_needs_a_reason_an_active_batch_and_the_batchs_province(recon: Any) -> None:
    batch = SettlementBatch.objects.get(pk=recon.load("home", row("S1"))["batch"])
    with pytest.raises(NotFound):
        services.settlement_batch_withdraw(batch=batch, user=staff(Role.FINANCE_MAKER, SH, username="sh-maker-w"), reason="x")
    with pytest.raises(ValidationFailed):
        services.settlement_batch_withdraw(batch=batch, user=recon.maker, reason=" ")
    services.settlement_batch_withdraw(batch=batch, user=staff(Role.FINANCE_CHECKER, SC, username="sc-checker-w"), reason="重复上传")
    with pytest.raises(Conflict) as twice:
        services.settlement_batch_withdraw(batch=batch, user=recon.maker, reason="again")
    assert twice.value.code == "batch_not_active"
    assert [h.history_change_reason for h in batch.history.order_by("history_id")] == ["imported", "withdrawn: 重复上传"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE reconciliation_settlementbatch SET state = 'active' WHERE id = %s",
        "UPDATE reconciliation_settlementbatch SET rows = rows + 1 WHERE id = %s",
        "UPDATE reconciliation_settlementbatch SET province = '440000' WHERE id = %s",
    ],
)
def test_the_database_keeps_a_withdrawn_batch_withdrawn(recon: Any, statement: str) -> None:
    batch = SettlementBatch.objects.get(pk=recon.load("home", row("S1"))["batch"])
    services.settlement_batch_withdraw(batch=batch, user=recon.maker, reason="错误")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [batch.pk])


def test_the_database_refuses_a_superseded_batch_without_its_replacement(recon: Any) -> None:
    batch = recon.load("home", row("S1"))["batch"]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE reconciliation_settlementbatch SET state = 'superseded' WHERE id = %s", [batch])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_database_refuses_a_replacement_of_another_province(recon: Any) -> None:
    batch = recon.load("home", row("S1"))["batch"]
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reconciliation_settlementbatch (period, side, province, state, replaces_id, filename, rows, imported_at,"
            " withdrawn_reason) VALUES (%s, 'home', %s, 'active', %s, '', 0, now(), '')",
            [PERIOD, SH, batch],
        )


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user)}")
    return client


def test_batches_are_listed_per_period_and_withdrawn_over_the_api_within_the_province_wall(recon_default_plan: Any) -> None:
    recon = recon_default_plan
    sc = recon.load("home", row("S1"))["batch"]
    sh = recon.load("destination", row("S1"))["batch"]
    sc_maker = _client(staff(Role.FINANCE_MAKER, SC, username="sc-maker-api"))
    listed = sc_maker.get("/api/v1/settlements/batches/", {"period": PERIOD}).json()
    assert listed["next"] is None
    assert [(b["id"], b["province"], b["state"], b["replaces"]) for b in listed["results"]] == [(sc, SC, "active", None)]
    assert sc_maker.post(f"/api/v1/settlements/batches/{sh}/withdraw/", {"reason": "x"}, format="json").status_code == 404
    assert sc_maker.post(f"/api/v1/settlements/batches/{sc}/withdraw/", {}, format="json").status_code == 400
    # A reason is text a person typed: a number is refused, not stored as "0" (schemathesis).
    not_text = sc_maker.post(f"/api/v1/settlements/batches/{sc}/withdraw/", {"reason": 0}, format="json")
    assert (not_text.status_code, not_text.json()["errors"][0]["field"]) == (400, "reason")
    answer = sc_maker.post(f"/api/v1/settlements/batches/{sc}/withdraw/", {"reason": "上传错了"}, format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "withdrawn"
    assert _client(recon.maker).get("/api/v1/settlements/batches/", {"period": "2026-13"}).status_code == 400
