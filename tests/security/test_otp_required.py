"""A finance checker who enrolled a TOTP device approves money moves only with an OTP-verified
session or a token issued after a code check (403 otp_required otherwise), whichever way in:
API token, service call, command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from apps.core.errors import Forbidden
from apps.core.services import token_issue
from apps.pooling import services as pooling
from apps.pooling.models import Transfer
from tests.pooling.conftest import SH, account, fund, key

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def code_of(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


@pytest.fixture
def device(people) -> TOTPDevice:
    return TOTPDevice.objects.create(user=people.sh_checker, name="phone", confirmed=True)


@pytest.fixture
def proposed(people) -> Transfer:
    fund(account("provincial", SH), 500_00, people)  # approved by sh_checker before she enrols
    return pooling.transfer_propose(
        from_account=account("provincial", SH),
        to_account=account("national"),
        amount_fen=10_00,
        proposer=people.sh_maker,
        idempotency_key=key(),
    )


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def approve(client: APIClient, transfer: Transfer):
    return client.post(f"/api/v1/transfers/{transfer.pk}/approve/")


def test_checker_with_a_device_approving_with_a_plain_token_gets_403_otp_required(proposed, device, people):
    response = approve(token_client(token_issue(user=people.sh_checker)), proposed)
    assert (response.status_code, response.json()["code"]) == (403, "otp_required")
    proposed.refresh_from_db()
    assert proposed.state == Transfer.State.PROPOSED


def test_checker_with_a_device_approves_with_a_token_requested_with_her_code(proposed, device):
    issued = APIClient().post(
        "/api/v1/auth/token/", {"username": "sh-checker", "password": PASSWORD, "otp": code_of(device)}, format="json"
    )
    response = approve(token_client(issued.json()["token"]), proposed)
    assert (response.status_code, response.json()["state"]) == (200, "posted")


def test_a_wrong_code_in_the_token_request_is_401_and_issues_nothing(proposed, device):
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"
    response = APIClient().post("/api/v1/auth/token/", {"username": "sh-checker", "password": PASSWORD, "otp": wrong}, format="json")
    assert (response.status_code, response.json()["code"], "token" in response.json()) == (401, "not_authenticated", False)


def test_checker_without_a_device_approves_with_a_plain_token(proposed, people):
    response = approve(token_client(token_issue(user=people.sh_checker)), proposed)
    assert (response.status_code, response.json()["state"]) == (200, "posted")


def test_checker_with_a_device_rejecting_with_a_plain_token_gets_403_otp_required(proposed, device, people):
    response = token_client(token_issue(user=people.sh_checker)).post(
        f"/api/v1/transfers/{proposed.pk}/reject/", {"reason": "no"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "otp_required")


def test_the_service_refuses_an_unverified_checker_with_a_device_whoever_calls_it(proposed, device, people):
    with pytest.raises(Forbidden) as refused:
        pooling.transfer_approve(transfer=proposed, approver=people.sh_checker)
    assert refused.value.code == "otp_required"


def test_checker_with_a_device_approves_over_the_api_in_an_otp_verified_session(proposed, device):
    client = Client()
    login = client.post(
        "/admin/login/?next=/admin/", {"username": "sh-checker", "password": PASSWORD, "otp_token": code_of(device), "next": "/admin/"}
    )
    assert login.status_code == 302
    csrf = client.get("/admin/").cookies["csrftoken"].value
    response = client.post(f"/api/v1/transfers/{proposed.pk}/approve/", HTTP_X_CSRFTOKEN=csrf)
    assert (response.status_code, response.json()["state"]) == (200, "posted")


def test_record_fund_income_needs_the_approvers_code_once_she_enrolled(people, device):
    args = ["record_fund_income", "--province", SH, "--amount-fen", "100", "--proposer", "sh-maker", "--approver", "sh-checker"]
    with pytest.raises(CommandError, match="otp_required"):
        call_command(*args, stdout=io.StringIO())
    out = io.StringIO()
    call_command(*args, "--otp", code_of(device), stdout=out)
    assert Transfer.objects.get(pk=int(out.getvalue())).state == Transfer.State.POSTED
