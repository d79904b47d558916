"""Mail to the people who can act (issue 18): a proposed transfer to the checkers of the debited
province, a submitted release to reviewers who took no part, a submitted policy to the other
staff of its province, and hospitals reminded of a release they have not acknowledged that takes
effect within 7 days. Each notice once; received on a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import override_settings

from apps.benefits import services as benefits
from apps.benefits.selectors import province_by_code
from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.core.mail import email_send_due
from apps.core.models import AuditAction, AuditEvent, OutgoingEmail
from apps.core.roles import Role
from apps.core.services import staff_set_role
from apps.hospitals import services as hospitals
from apps.notices import services as notices
from apps.pooling import services as pooling
from tests.factories import draft_release, published_release, staff
from tests.integration.smtp import smtp_server
from tests.pooling.conftest import SC, SH, account, fund, key

pytestmark = pytest.mark.django_db


def mailed(user: Any, address: str) -> Any:
    user.email = address
    user.save(update_fields=["email"])
    return user


def smtp() -> Any:
    return smtp_server()


def smtp_settings(port: int) -> Any:
    return override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=port)


def recipients() -> list[str]:
    return sorted(OutgoingEmail.objects.values_list("recipient", flat=True))


# --- transfers ----------------------------------------------------------------------------------


@pytest.fixture
def addressed(people):
    for user in (people.sh_maker, people.sh_checker, people.sh_checker2, people.sc_maker, people.sc_checker):
        mailed(user, f"{user.username}@example.org")
    fund(account("provincial", SH), 1_000_00, people)
    OutgoingEmail.objects.all().delete()  # fund income is proposed and posted at once: it mailed nobody anyway
    return people


def _propose(people, amount_fen=12_34, idem=None):
    return pooling.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=amount_fen,
        memo="调剂 to the national fund",
        proposer=people.sh_maker,
        idempotency_key=idem or key(),
    )


def test_a_proposed_transfer_reaches_each_checker_of_the_debited_province_once_through_smtp(addressed, django_capture_on_commit_callbacks):
    with smtp() as (mailbox, port), smtp_settings(port):
        with django_capture_on_commit_callbacks(execute=True):
            transfer = _propose(addressed)
        with django_capture_on_commit_callbacks(execute=True):
            _propose(addressed, idem=transfer.idempotency_key)  # a replay of the same proposal
        email_send_due()
        email_send_due()
    assert sorted(m["X-Envelope-To"] for m in mailbox.messages) == ["sh-checker-2@example.org", "sh-checker@example.org"]


def test_the_transfer_mail_names_the_amount_in_yuan_and_links_the_transfer(addressed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transfer = _propose(addressed)
    body = OutgoingEmail.objects.get(recipient="sh-checker@example.org").body
    assert ("¥12.34" in body, f"/admin/pooling/transfer/{transfer.pk}/change/" in body) == (True, True)


def test_fund_income_posted_in_its_own_transaction_mails_nobody(people, django_capture_on_commit_callbacks):
    mailed(people.sh_checker, "sh-checker@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        fund(account("provincial", SH), 10_00, people)
    assert recipients() == []


def test_a_transfer_approved_before_the_mail_is_written_mails_nobody(addressed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        transfer = _propose(addressed)
    pooling.transfer_approve(transfer=transfer, approver=addressed.sh_checker)
    for callback in callbacks:
        callback()
    assert recipients() == []


def test_a_national_fund_debit_reaches_national_checkers_only(addressed, django_capture_on_commit_callbacks):
    national_maker = staff(Role.FINANCE_MAKER, "", username="nat-maker")
    mailed(staff(Role.FINANCE_CHECKER, "", username="nat-checker"), "nat-checker@example.org")
    # The national fund must hold what it proposes to pay (a person's proposal is checked at once).
    income = _propose(addressed, amount_fen=10_00)
    pooling.transfer_approve(transfer=income, approver=addressed.sh_checker)
    OutgoingEmail.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        pooling.transfer_propose(
            from_account=account("national"),
            to_account=account("provincial", SC),
            amount_fen=1,
            memo="allocation",
            proposer=national_maker,
            idempotency_key=key(),
        )
    assert recipients() == ["nat-checker@example.org"]


# --- releases and policies ------------------------------------------------------------------------


def test_a_submitted_release_reaches_reviewers_who_took_no_part_once(db):
    admin = mailed(staff(Role.CATALOG_ADMIN, username="rel-admin"), "rel-admin@example.org")
    mailed(staff(Role.CATALOG_REVIEWER, username="rel-reviewer-1"), "rel-reviewer-1@example.org")
    editor = mailed(staff(Role.CATALOG_ADMIN, username="rel-reviewer-2"), "rel-reviewer-2@example.org")
    draft = draft_release(label="2031.01", effective_from=dt.date(2031, 1, 1), user=admin, items=list(generate_items(2, seed=3)))
    catalog.item_put(release=draft, data=list(generate_items(3, seed=4))[2], user=editor)
    staff_set_role(user=editor, role=Role.CATALOG_REVIEWER, reason="moved to review")  # a reviewer now, who edited this draft
    with smtp() as (mailbox, port), smtp_settings(port):
        catalog.release_submit(release=draft, user=admin)
        email_send_due()
        email_send_due()
    assert [m["X-Envelope-To"] for m in mailbox.messages] == ["rel-reviewer-1@example.org"]


def test_a_release_sent_back_and_submitted_again_is_announced_again(db):
    admin = staff(Role.CATALOG_ADMIN, username="rel-admin")
    mailed(staff(Role.CATALOG_REVIEWER, username="rel-reviewer"), "rel-reviewer@example.org")
    reviewer2 = staff(Role.CATALOG_REVIEWER, username="rel-reviewer-2")
    draft = draft_release(label="2031.01", effective_from=dt.date(2031, 1, 1), user=admin, items=list(generate_items(2, seed=3)))
    catalog.release_submit(release=draft, user=admin)
    catalog.release_reject(release=draft, user=reviewer2, reason="fix the names")
    catalog.release_submit(release=draft, user=admin)
    assert recipients() == ["rel-reviewer@example.org", "rel-reviewer@example.org"]


def test_a_submitted_policy_reaches_the_other_staff_of_its_province_only(db):
    Province = province_by_code
    author = mailed(staff(Role.PROVINCE_STAFF, SH, username="pol-author"), "pol-author@example.org")
    mailed(staff(Role.PROVINCE_STAFF, SH, username="pol-colleague"), "pol-colleague@example.org")
    mailed(staff(Role.PROVINCE_STAFF, SC, username="pol-sichuan"), "pol-sichuan@example.org")
    mailed(staff(Role.FINANCE_CHECKER, SH, username="pol-finance"), "pol-finance@example.org")
    policy = benefits.policy_create_draft(
        user=author,
        province=Province(SH),
        scheme="employee",
        setting="inpatient",
        effective_from=dt.date(2031, 1, 1),
        deductible_fen=100_00,
        ratio_category_a="0.9",
        ratio_category_b="0.8",
        annual_cap_fen=400_000_00,
    )
    benefits.policy_submit(policy=policy, user=author)
    assert recipients() == ["pol-colleague@example.org"]


# --- hospitals: a release they have not acknowledged ----------------------------------------------


@pytest.fixture
def soon(db, catalog_admin, reviewer):
    """A release taking effect in 5 days, one in 8 days; three hospitals of which one acknowledged
    the first, one has no contact address."""
    from tests.pooling.conftest import ensure_ledger

    ensure_ledger()
    today = dt.date(2026, 6, 10)
    near = published_release(label="2026.06", effective_from=today + dt.timedelta(days=5), admin=catalog_admin, reviewer=reviewer, count=2)
    published_release(label="2026.07", effective_from=today + dt.timedelta(days=8), admin=catalog_admin, reviewer=reviewer, count=2)
    a = hospitals.hospital_register(code="H31010100001", name="上海甲医院", province_code=SH, contact_email="it@a.example.org")
    b = hospitals.hospital_register(code="H31010100002", name="上海乙医院", province_code=SH, contact_email="it@b.example.org")
    hospitals.hospital_register(code="H31010100003", name="上海丙医院", province_code=SH, contact_email="")
    notices.release_acknowledge(hospital_id=b.pk, label=near.label)
    return {"today": today, "a": a, "b": b}


def test_a_hospital_that_has_not_acknowledged_a_release_due_within_7_days_is_reminded_once(soon):
    with smtp() as (mailbox, port), smtp_settings(port):
        first = notices.release_reminders_queue(today=soon["today"])
        again = notices.release_reminders_queue(today=soon["today"])
        email_send_due()
    assert ((first["queued"], again["queued"]), [m["X-Envelope-To"] for m in mailbox.messages]) == ((1, 0), ["it@a.example.org"])
    assert "2026.06" in mailbox.messages[0].get_payload(decode=True).decode()


def test_the_release_8_days_out_is_reminded_when_it_comes_within_7(soon):
    notices.release_reminders_queue(today=soon["today"])
    assert recipients() == ["it@a.example.org"]
    notices.release_reminders_queue(today=soon["today"] + dt.timedelta(days=1))
    assert recipients() == ["it@a.example.org", "it@a.example.org", "it@b.example.org"]


def test_a_run_that_reminds_writes_one_audit_event_and_a_quiet_run_none(soon):
    notices.release_reminders_queue(today=soon["today"])
    notices.release_reminders_queue(today=soon["today"])
    assert AuditEvent.objects.filter(action=AuditAction.RELEASE_REMINDERS_QUEUED).count() == 1


def test_an_inactive_hospital_is_not_reminded(soon):
    hospitals.hospital_set_active(hospital=soon["a"], active=False)
    assert notices.release_reminders_queue(today=soon["today"])["queued"] == 0


def test_the_reminder_is_written_in_chinese(soon):
    notices.release_reminders_queue(today=soon["today"])
    mail = OutgoingEmail.objects.get()
    assert ("请及时加载" in mail.subject, "尚未确认加载" in mail.body) == (True, True)
