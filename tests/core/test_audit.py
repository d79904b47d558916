"""The typed audit log: one event per service action, written in the action's transaction,
append-only in PostgreSQL, reasons kept whole."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from apps.benefits import services as benefits
from apps.benefits.models import Province
from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.core.audit import audit_record
from apps.core.models import AuditAction, AuditEvent, StaffToken
from apps.core.roles import Role
from apps.core.services import staff_create, staff_set_role, staff_token_create, staff_token_revoke
from apps.hospitals import services as hospitals
from apps.pooling import services as pooling
from tests.factories import draft_release, staff
from tests.pooling.conftest import SH, People, account, ensure_ledger, key

pytestmark = pytest.mark.django_db

ITEMS = list(generate_items(3, seed=7))


def _events_of(run: Callable[[], Any]) -> list[str]:
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    run()
    return list(AuditEvent.objects.filter(id__gt=before).order_by("id").values_list("action", flat=True))


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    ensure_ledger()
    people = People()
    admin = staff(Role.CATALOG_ADMIN, username="audit-admin")
    reviewer = staff(Role.CATALOG_REVIEWER, username="audit-reviewer")
    sh_staff = staff(Role.PROVINCE_STAFF, SH, username="audit-sh-staff")
    sh_staff2 = staff(Role.PROVINCE_STAFF, SH, username="audit-sh-staff-2")
    draft = draft_release(label="2031.01", effective_from=dt.date(2031, 1, 1), user=admin, items=ITEMS)
    return {"people": people, "admin": admin, "reviewer": reviewer, "sh_staff": sh_staff, "sh_staff2": sh_staff2, "draft": draft}


def test_each_catalog_action_writes_exactly_one_typed_event(world):
    admin, reviewer, draft = world["admin"], world["reviewer"], world["draft"]
    code = ITEMS[0]["code"]
    steps: list[tuple[AuditAction, Callable[[], Any]]] = [
        (
            AuditAction.RELEASE_CREATED,
            lambda: catalog.release_create_draft(label="2031.02", effective_from=dt.date(2031, 2, 1), user=admin),
        ),
        (
            AuditAction.RELEASE_CHANGED,
            lambda: catalog.release_update_draft(release=draft, user=admin, label=draft.label, effective_from=dt.date(2031, 3, 1)),
        ),
        (AuditAction.RELEASE_ITEM_CHANGED, lambda: catalog.item_put(release=draft, data={**ITEMS[0], "name": "改名"}, user=admin)),
        (AuditAction.RELEASE_ITEM_DELETED, lambda: catalog.item_delete(release=draft, code=ITEMS[1]["code"], user=admin)),
        (AuditAction.RELEASE_SUBMITTED, lambda: catalog.release_submit(release=draft, user=admin)),
        (AuditAction.RELEASE_REJECTED, lambda: catalog.release_reject(release=draft, user=reviewer, reason="补充限制说明")),
        (AuditAction.RELEASE_SUBMITTED, lambda: catalog.release_submit(release=draft, user=admin)),
        (AuditAction.RELEASE_APPROVED, lambda: catalog.release_approve(release=draft, user=reviewer)),
        (AuditAction.RELEASE_PUBLISHED, lambda: catalog.release_publish(release=draft, user=admin)),
    ]
    for action, step in steps:
        assert _events_of(step) == [action], action
    assert AuditEvent.objects.filter(action=AuditAction.RELEASE_ITEM_CHANGED, detail__code=code).exists()


def test_each_money_action_writes_exactly_one_typed_event(world):
    people: People = world["people"]
    provincial = account("provincial", SH)
    external = account("external", SH)
    proposal: dict[str, Any] = {}

    def propose() -> None:
        proposal["t"] = pooling.transfer_propose(
            from_account=external, to_account=provincial, amount_fen=500_00, proposer=people.sh_maker, idempotency_key=key()
        )

    assert _events_of(propose) == [AuditAction.TRANSFER_PROPOSED]
    assert _events_of(lambda: pooling.transfer_approve(transfer=proposal["t"], approver=people.sh_checker)) == [AuditAction.TRANSFER_POSTED]
    proposal["t"].refresh_from_db()
    assert _events_of(lambda: pooling.transfer_reverse(transfer=proposal["t"], user=people.sh_maker, reason="录错金额")) == [
        AuditAction.TRANSFER_REVERSAL_PROPOSED
    ]
    assert _events_of(propose) == [AuditAction.TRANSFER_PROPOSED]
    assert _events_of(lambda: pooling.transfer_reject(transfer=proposal["t"], user=people.sh_checker, reason="无依据")) == [
        AuditAction.TRANSFER_REJECTED
    ]
    assert _events_of(propose) == [AuditAction.TRANSFER_PROPOSED]
    assert _events_of(lambda: pooling.transfer_void(transfer=proposal["t"], user=people.sh_maker, reason="重复")) == [
        AuditAction.TRANSFER_VOIDED
    ]
    assert _events_of(
        lambda: pooling.account_set_overdraft_limit(account=provincial, limit_fen=1_000_00, user=people.sh_checker, reason="季度预算")
    ) == [AuditAction.ACCOUNT_LIMIT_CHANGED]


def test_a_posted_transfer_event_names_both_provinces_and_the_amount(world):
    people: People = world["people"]
    transfer = pooling.transfer_propose(
        from_account=account("external", SH),
        to_account=account("provincial", SH),
        amount_fen=12_345,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )
    pooling.transfer_approve(transfer=transfer, approver=people.sh_checker)
    event = AuditEvent.objects.get(action=AuditAction.TRANSFER_POSTED, object_id=str(transfer.pk))
    assert (event.actor, event.province_code, event.detail["amount_fen"], event.detail["to_province"]) == (
        people.sh_checker,
        SH,
        12_345,
        SH,
    )


def test_each_policy_and_local_item_action_writes_exactly_one_typed_event(world):
    province = Province.objects.get(code=SH)
    drafted: dict[str, Any] = {}
    values = {
        "scheme": "employee",
        "setting": "inpatient",
        "effective_from": dt.date(2031, 1, 1),
        "deductible_fen": 100_000,
        "ratio_category_a": "0.9",
        "ratio_category_b": "0.8",
        "annual_cap_fen": 50_000_000,
    }

    def draft() -> None:
        drafted["p"] = benefits.policy_create_draft(user=world["sh_staff"], province=province, **values)

    assert _events_of(draft) == [AuditAction.POLICY_DRAFTED]
    assert _events_of(lambda: benefits.policy_update_draft(policy=drafted["p"], user=world["sh_staff"], deductible_fen=90_000)) == [
        AuditAction.POLICY_CHANGED
    ]
    assert _events_of(lambda: benefits.policy_submit(policy=drafted["p"], user=world["sh_staff"])) == [AuditAction.POLICY_SUBMITTED]
    assert _events_of(lambda: benefits.policy_reject(policy=drafted["p"], user=world["sh_staff2"], reason="封顶线过高")) == [
        AuditAction.POLICY_REJECTED
    ]
    assert _events_of(lambda: benefits.policy_submit(policy=drafted["p"], user=world["sh_staff"])) == [AuditAction.POLICY_SUBMITTED]
    assert _events_of(lambda: benefits.policy_approve(policy=drafted["p"], user=world["sh_staff2"])) == [AuditAction.POLICY_APPROVED]
    assert _events_of(
        lambda: benefits.local_item_save(
            user=world["sh_staff"],
            province=province,
            code="SH-LOCAL-1",
            name="本地项目",
            effective_from=dt.date(2031, 1, 1),
            sunset_date=dt.date(2032, 1, 1),
        )
    ) == [AuditAction.LOCAL_ITEM_SAVED]


def test_each_hospital_and_staff_action_writes_exactly_one_typed_event(world):
    sh_staff = world["sh_staff"]
    registered: dict[str, Any] = {}

    def register() -> None:
        registered["h"] = hospitals.hospital_register(code="H31010100777", name="审计医院", province_code=SH, user=sh_staff)

    assert _events_of(register) == [AuditAction.HOSPITAL_REGISTERED]
    assert _events_of(lambda: hospitals.hospital_update(hospital=registered["h"], user=sh_staff, contact_name="王工")) == [
        AuditAction.HOSPITAL_CHANGED
    ]
    issued: dict[str, Any] = {}

    def issue() -> None:
        issued["k"], _ = hospitals.api_key_issue(hospital=registered["h"], user=sh_staff)

    assert _events_of(issue) == [AuditAction.API_KEY_ISSUED]
    assert _events_of(lambda: hospitals.api_key_revoke(key=issued["k"], user=sh_staff)) == [AuditAction.API_KEY_REVOKED]
    assert _events_of(lambda: hospitals.hospital_set_active(hospital=registered["h"], active=False, user=sh_staff)) == [
        AuditAction.HOSPITAL_DEACTIVATED
    ]
    created: dict[str, Any] = {}

    def create() -> None:
        created["u"] = staff_create(username="audit-new", role=Role.AUDITOR, actor=world["admin"])

    assert _events_of(create) == [AuditAction.STAFF_CREATED]
    assert _events_of(lambda: staff_set_role(user=created["u"], role=Role.CATALOG_REVIEWER, reason="调岗", actor=world["admin"])) == [
        AuditAction.STAFF_ROLE_CHANGED
    ]


def test_each_staff_token_action_writes_exactly_one_typed_event(world):
    issued: dict[str, Any] = {}

    def issue() -> None:
        issued["t"] = staff_token_create(user=world["reviewer"], via="api")

    assert _events_of(issue) == [AuditAction.STAFF_TOKEN_ISSUED]
    row = StaffToken.objects.get(digest=issued["t"].row.digest)
    assert _events_of(lambda: staff_token_revoke(token=row, actor=world["reviewer"])) == [AuditAction.STAFF_TOKEN_REVOKED]
    assert _events_of(lambda: staff_token_revoke(token=row, actor=world["reviewer"])) == []  # already revoked: nothing happened


def test_an_action_that_fails_leaves_no_event(world):
    draft = world["draft"]
    before = AuditEvent.objects.count()
    with pytest.raises(Exception):  # noqa: B017 - any refusal will do: the point is what remains
        catalog.release_approve(release=draft, user=world["reviewer"])  # a draft is not in review
    assert AuditEvent.objects.count() == before


def test_an_approval_with_a_reason_writes_one_event_that_keeps_it_and_a_refused_overdraft_none(world):
    people: People = world["people"]
    provincial, external = account("provincial", SH), account("external", SH)
    transfer = pooling.transfer_propose(
        from_account=external, to_account=provincial, amount_fen=7_00, proposer=people.sh_maker, idempotency_key=key()
    )
    assert _events_of(lambda: pooling.transfer_approve(transfer=transfer, approver=people.sh_checker, reason="已核对")) == [
        AuditAction.TRANSFER_POSTED
    ]
    assert AuditEvent.objects.filter(action=AuditAction.TRANSFER_POSTED, object_id=str(transfer.pk)).get().reason == "已核对"
    too_much = provincial.balance_fen + 10_000_000_00
    with pytest.raises(Exception):  # noqa: B017 - insufficient_funds at proposal
        _events_of(
            lambda: pooling.transfer_propose(
                from_account=provincial,
                to_account=account("national"),
                amount_fen=too_much,
                proposer=people.sh_maker,
                idempotency_key=key(),
            )
        )
    assert not AuditEvent.objects.filter(action=AuditAction.TRANSFER_PROPOSED, detail__amount_fen=too_much).exists()


def test_audit_events_cannot_be_changed_or_deleted_even_with_raw_sql(world):
    event = AuditEvent.objects.first()
    assert event is not None
    for statement in (
        "UPDATE core_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="never changed or deleted"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])


def test_a_long_reason_is_kept_whole_in_history_and_audit(world):
    reason = "退回：" + "限制支付范围需与医保药品目录凡例一致，" * 10
    assert len(reason) > 100
    catalog.release_submit(release=world["draft"], user=world["admin"])
    catalog.release_reject(release=world["draft"], user=world["reviewer"], reason=reason)
    assert world["draft"].history.first().history_change_reason == reason
    assert AuditEvent.objects.get(action=AuditAction.RELEASE_REJECTED).reason == reason


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="unknown audit action"), transaction.atomic():
        audit_record(action="release.renamed", actor=None)


# serialized_rollback: a plain transactional test's flush re-runs post_migrate, whose new rows
# (other primary keys) collide with the serialized rows the next serialized_rollback test loads.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_event_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside the action's transaction"):
        audit_record(action=AuditAction.RELEASE_CREATED, actor=None)


def test_each_webhook_endpoint_and_acknowledgement_action_writes_exactly_one_typed_event(world):
    from apps.catalog.models import CatalogRelease
    from apps.notices import services as notices
    from tests.factories import publish

    hospital = hospitals.hospital_register(code="H31010100778", name="通知医院", province_code=SH, user=world["sh_staff"])
    made: dict[str, Any] = {}

    def register() -> None:
        made["e"], _ = notices.endpoint_create(hospital=hospital, url="http://127.0.0.1:9/hook", user=world["sh_staff"])

    assert _events_of(register) == [AuditAction.ENDPOINT_REGISTERED]
    endpoint = made["e"]
    steps: list[tuple[AuditAction, Callable[[], Any]]] = [
        (AuditAction.ENDPOINT_CHANGED, lambda: notices.endpoint_update(endpoint=endpoint, url="http://127.0.0.1:10/hook")),
        (AuditAction.ENDPOINT_SECRET_ROTATED, lambda: notices.endpoint_rotate_secret(endpoint=endpoint, retire_old_now=True)),
        (AuditAction.ENDPOINT_CHANGED, lambda: notices.endpoint_update(endpoint=endpoint, active=False)),
        (AuditAction.ENDPOINT_ENABLED, lambda: notices.endpoint_enable(endpoint=endpoint, user=world["sh_staff"])),
        (AuditAction.ENDPOINT_DELETED, lambda: notices.endpoint_delete(endpoint=endpoint)),
    ]
    for action, step in steps:
        assert _events_of(step) == [action], action
    release: CatalogRelease = publish(world["draft"], admin=world["admin"], reviewer=world["reviewer"])
    assert _events_of(lambda: notices.release_acknowledge(hospital_id=hospital.pk, label=release.label)) == [
        AuditAction.RELEASE_ACKNOWLEDGED
    ]
    assert _events_of(lambda: notices.release_acknowledge(hospital_id=hospital.pk, label=release.label)) == []  # idempotent


def _in_transaction(run: Callable[[], Any]) -> list[str]:
    with transaction.atomic():
        return _events_of(run)


def test_each_provincial_pooling_action_writes_exactly_one_typed_event(world):
    """Actions that also propose transfers write their own event plus one ``transfer.proposed``
    per transfer (each proposal is an action of its own); the rest exactly one event."""
    import io
    from decimal import Decimal

    from apps.benefits.models import PoolingRegion
    from apps.pooling.models import AdjustmentRule, Transfer
    from tests.pooling.conftest import SC

    people: People = world["people"]
    sichuan = Province.objects.get(code=SC)
    rule = AdjustmentRule(province=sichuan, contribution_share=Decimal("0.05"), effective_from=dt.date(2026, 1, 1))
    assert _in_transaction(lambda: pooling.adjustment_rule_save(rule=rule, user=people.sc_maker)) == [AuditAction.ADJUSTMENT_RULE_SAVED]
    csv = b"region_code,period,fund_income_fen,fund_expenditure_fen,active_insured,retirees\n510300,2026-01,100,200,10,20\n"
    steps: list[tuple[list[str], Callable[[], Any]]] = [
        (
            [AuditAction.REGION_FIGURES_ENTERED],
            lambda: pooling.region_figures_put(
                region=PoolingRegion.objects.get(code="510100"),
                period="2026-01",
                fund_income_fen=1_000,
                fund_expenditure_fen=500,
                active_insured=10,
                retirees=1,
                user=people.sc_maker,
            ),
        ),
        (
            [AuditAction.REGION_FIGURES_IMPORTED],
            lambda: pooling.figures_import(file=io.BytesIO(csv), user=people.sc_maker, filename="f.csv"),
        ),
        (
            [AuditAction.TRANSFER_PROPOSED] * 4 + [AuditAction.ADJUSTMENT_PROPOSED],
            lambda: pooling.adjustment_run(period="2026-01", province=sichuan),
        ),
        (
            [AuditAction.ADVANCE_POLICY_CHANGED],
            lambda: pooling.advance_policy_set(province=sichuan, threshold_fen=100, target_fen=500, user=people.sc_checker),
        ),
        ([AuditAction.TRANSFER_PROPOSED], lambda: pooling.advance_topups_check()),
        (
            [AuditAction.CLEARING_RECORDED],
            lambda: pooling.clearing_record(period="2026-01", pairs=[(SC, SH, 1, 100)], source="run #1"),
        ),
        (
            [AuditAction.BUDGET_SAVED],
            lambda: pooling.budget_save(
                province=sichuan, year=2026, expenditure_fen=10_000, cross_regional_fen=1_000, user=people.sc_maker
            ),
        ),
        (
            [AuditAction.CLEARING_RECORDED],
            lambda: pooling.clearing_record(period="2026-02", pairs=[(SC, SH, 1, 900)], source="run #2"),
        ),
        ([AuditAction.BUDGET_ALERTED], lambda: pooling.budget_alerts_check(year=2026)),
    ]
    for actions, step in steps:
        with transaction.atomic():
            assert sorted(_events_of(step)) == sorted(actions), actions
    for pending in Transfer.objects.filter(state="proposed"):  # out of the way of the unification below
        pooling.transfer_void(transfer=pending, user=pending.proposed_by, reason="test: not needed")
    change = {}
    assert (
        _events_of(lambda: change.setdefault("c", pooling.unification_propose(province=sichuan, user=people.sc_maker, reason="统收统支")))[
            -1
        ]
        == AuditAction.UNIFICATION_PROPOSED
    )
    for transfer in Transfer.objects.filter(pk__in=change["c"].transfer_ids):
        pooling.transfer_approve(transfer=transfer, approver=people.sc_checker)
    assert _events_of(lambda: pooling.unification_complete(change=change["c"], user=people.sc_checker)) == [
        AuditAction.UNIFICATION_COMPLETED
    ]


def test_a_mapping_upload_writes_exactly_one_typed_event_naming_the_hospital(world):
    import io

    from apps.hospitals import mapping_services

    hospital = hospitals.hospital_register(code="H31010100779", name="对码医院", province_code=SH, user=world["sh_staff"])
    upload = io.BytesIO(f"local_code,national_code\nL1,{ITEMS[0]['code']}\n".encode())
    assert _events_of(lambda: mapping_services.mappings_replace(hospital=hospital, file=upload, fmt="csv")) == [
        AuditAction.MAPPINGS_REPLACED
    ]
    event = AuditEvent.objects.get(action=AuditAction.MAPPINGS_REPLACED)
    assert (event.actor_label, event.province_code, event.detail["added"]) == ("hospital H31010100779", SH, 1)


def test_each_precheck_rule_action_writes_exactly_one_typed_event(world):
    import io

    province = Province.objects.get(code=SH)
    admin, reviewer, sh_staff = world["admin"], world["reviewer"], world["sh_staff"]
    made: dict[str, Any] = {}

    def draft_policy() -> None:
        made["p"] = benefits.policy_create_draft(
            user=sh_staff,
            province=province,
            scheme="resident",
            setting="chronic_outpatient",
            effective_from=dt.date(2031, 1, 1),
            deductible_fen=0,
            ratio_category_a="0.7",
            ratio_category_b="0.6",
            annual_cap_fen=1_000_000,
        )

    def propose_dose() -> None:
        made["d"] = benefits.daily_dose_propose(user=admin, code=ITEMS[0]["code"], units_per_day="2")

    def create_drg() -> None:
        made["v"] = benefits.drg_version_create(user=admin, label="DRG-2031", effective_from=dt.date(2031, 1, 1))

    steps: list[tuple[AuditAction | None, Callable[[], Any]]] = [
        (None, draft_policy),
        (
            AuditAction.DISEASE_SAVED,
            lambda: benefits.disease_save(user=sh_staff, province=province, code="sh_copd", name="慢阻肺", icd10_prefixes="J44"),
        ),
        (
            AuditAction.POLICY_DISEASES_SET,
            lambda: benefits.policy_disease_terms_set(policy=made["p"], user=sh_staff, terms=[{"disease": "sh_copd"}]),
        ),
        (AuditAction.DAILY_DOSE_PROPOSED, propose_dose),
        (AuditAction.DAILY_DOSE_APPROVED, lambda: benefits.daily_dose_approve(dose=made["d"], user=reviewer)),
        (
            AuditAction.PRICES_IMPORTED,
            lambda: benefits.service_prices_import(
                user=sh_staff,
                province=province,
                effective_from=dt.date(2031, 1, 1),
                stream=io.BytesIO(b"code,price_fen\n310100001000001,1500\n"),
            ),
        ),
        (AuditAction.DRG_VERSION_CREATED, create_drg),
        (
            AuditAction.DRG_VERSION_EDITED,
            lambda: benefits.drg_groups_import(version=made["v"], user=admin, stream=io.BytesIO(b"code,name,weight\nGB21,x,1.5\n")),
        ),
        (
            AuditAction.DRG_VERSION_EDITED,
            lambda: benefits.drg_area_rates_import(
                version=made["v"], user=admin, stream=io.BytesIO(b"area_code,base_rate_fen,out_of_town_from\n310100,1000000,2031-01-01\n")
            ),
        ),
        (AuditAction.DRG_VERSION_SUBMITTED, lambda: benefits.drg_version_submit(version=made["v"], user=admin)),
        (AuditAction.DRG_VERSION_REJECTED, lambda: benefits.drg_version_reject(version=made["v"], user=reviewer, reason="费率待核")),
        (AuditAction.DRG_VERSION_SUBMITTED, lambda: benefits.drg_version_submit(version=made["v"], user=admin)),
        (AuditAction.DRG_VERSION_APPROVED, lambda: benefits.drg_version_approve(version=made["v"], user=reviewer)),
        (AuditAction.DRG_VERSION_PUBLISHED, lambda: benefits.drg_version_publish(version=made["v"], user=admin)),
    ]
    for action, step in steps:
        events = _events_of(step)
        if action is not None:
            assert events == [action], action


def test_each_settlement_batch_and_discrepancy_action_writes_exactly_one_typed_event(world):
    """Issue 18: imports (one event for every batch a file makes), a withdrawal, and each step of
    a discrepancy's lifecycle."""
    import io

    from apps.benefits.models import Province
    from apps.reconciliation import services as reconciliation
    from apps.reconciliation.models import Discrepancy, SettlementBatch

    for code, name in (("510000", "四川省"), ("440000", "广东省")):
        Province.objects.get_or_create(code=code, defaults={"name": name})
    national = staff(Role.FINANCE_MAKER, username="audit-national-maker")
    header = "settlement_id,home_province,destination_province,hospital_code,patient_id_hash,date_of_service,release_label,drg_group,total_fen,fund_fen,patient_fen\n"

    def load(side: str, body: str, replaces: int | None = None) -> Any:
        return reconciliation.settlement_import(
            period="2026-05", side=side, file=io.BytesIO((header + body).encode()), user=national, replaces=replaces
        )

    imported: dict[str, Any] = {}
    rows = "S1,510000,310000,H31010100001,p1,2026-05-02,X,,100,60,40\nS2,440000,310000,H31010100001,p2,2026-05-02,X,,100,60,40\n"
    assert _events_of(lambda: imported.update(home=load("home", rows))) == [AuditAction.SETTLEMENTS_IMPORTED]
    assert len(imported["home"]["batches"]) == 2
    sc_batch = SettlementBatch.objects.get(pk__in=imported["home"]["batches"], province="510000")
    assert _events_of(lambda: load("home", rows.splitlines()[0] + "\n", replaces=sc_batch.pk)) == [AuditAction.SETTLEMENTS_IMPORTED]
    gd_batch = SettlementBatch.objects.get(pk__in=imported["home"]["batches"], province="440000")
    assert _events_of(lambda: reconciliation.settlement_batch_withdraw(batch=gd_batch, user=national, reason="撤回")) == [
        AuditAction.SETTLEMENT_BATCH_WITHDRAWN
    ]
    run = reconciliation.reconciliation_run(period="2026-05", user=national)
    d = Discrepancy.objects.get(run=run, settlement_id="S1", kind="missing_destination")
    sc_maker = staff(Role.FINANCE_MAKER, "510000", username="audit-sc-maker")
    sh_checker = staff(Role.FINANCE_CHECKER, SH, username="audit-sh-checker")
    assert _events_of(lambda: reconciliation.discrepancy_dispute(discrepancy=d, user=sh_checker, reason="请核对")) == [
        AuditAction.DISCREPANCY_DISPUTED
    ]
    assert _events_of(
        lambda: reconciliation.discrepancy_resolve(discrepancy=d, user=sc_maker, resolution="accept_home", reason="补报")
    ) == [AuditAction.DISCREPANCY_RESOLUTION_PROPOSED]
    assert _events_of(lambda: reconciliation.discrepancy_approve(discrepancy=d, user=sh_checker)) == [AuditAction.DISCREPANCY_APPROVED]
