import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command

from apps.core.errors import Forbidden, ValidationFailed
from apps.core.roles import Role
from apps.hospitals import services
from apps.hospitals.models import ApiKey, Hospital
from tests.factories import staff
from tests.hospitals.api_helpers import hospital, hospital_client, issue_key, key_client

pytestmark = pytest.mark.django_db


def test_issued_key_authenticates_as_its_hospital():
    _, raw, client = hospital_client("H31010100001")
    response = client.get("/api/v1/hospital/")
    assert response.status_code == 200
    assert response.json() == {"code": "H31010100001", "province": "310000", "key_prefix": raw.split(".")[0]}


def test_key_secret_is_never_stored():
    h = hospital()
    key, raw = services.api_key_issue(hospital=h)
    secret = raw.split(".", 1)[1]
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert not any(secret in str(value) for value in stored.values())
    assert stored["secret_sha256"] == services.hash_secret(secret)


def test_revoked_key_is_refused_with_api_key_revoked():
    h, _, client = hospital_client()
    assert client.get("/api/v1/hospital/").status_code == 200  # verdict now cached
    services.api_keys_revoke_for_hospital(hospital=h)
    response = client.get("/api/v1/hospital/")
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_revoked"


def test_unknown_key_is_401_not_authenticated():
    response = key_client("NoSuchKey1.secret").get("/api/v1/hospital/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_right_prefix_with_wrong_secret_does_not_reveal_revocation():
    h, raw, _ = hospital_client()
    services.api_keys_revoke_for_hospital(hospital=h)
    prefix = raw.split(".")[0]
    response = key_client(f"{prefix}.not-the-secret").get("/api/v1/hospital/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_missing_credentials_are_401_with_www_authenticate():
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/catalog/releases/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"


def test_key_of_deactivated_hospital_stops_working():
    h, _, client = hospital_client()
    assert client.get("/api/v1/hospital/").status_code == 200
    services.hospital_set_active(hospital=h, active=False)
    assert client.get("/api/v1/hospital/").status_code == 401


def test_keys_are_not_issued_for_an_inactive_hospital():
    h = hospital()
    services.hospital_set_active(hospital=h, active=False)
    with pytest.raises(ValidationFailed):
        services.api_key_issue(hospital=h)


def test_last_used_is_written_at_most_once_a_minute():
    h = hospital()
    key, raw = services.api_key_issue(hospital=h)
    client = key_client(raw)
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC), tick=False):
        client.get("/api/v1/hospital/")
        first = ApiKey.objects.get(pk=key.pk).last_used_at
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, 0, 30, tzinfo=dt.UTC), tick=False):
        client.get("/api/v1/hospital/")
        assert ApiKey.objects.get(pk=key.pk).last_used_at == first
    assert first == dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def test_revoking_by_prefix_leaves_the_other_keys_working():
    h = hospital()
    first, second = issue_key(h), issue_key(h)
    services.api_keys_revoke_for_hospital(hospital=h, prefix=first.split(".")[0])
    assert key_client(first).get("/api/v1/hospital/").status_code == 401
    assert key_client(second).get("/api/v1/hospital/").status_code == 200


def test_issue_and_revoke_are_in_the_key_history():
    h = hospital()
    key, _ = services.api_key_issue(hospital=h)
    services.api_key_revoke(key=key, reason="leaked in a log")
    reasons = list(key.history.order_by("history_id").values_list("history_change_reason", flat=True))  # type: ignore[attr-defined]
    assert reasons == ["issued", "leaked in a log"]


def test_institution_code_must_belong_to_the_province():
    with pytest.raises(ValidationFailed) as err:
        hospital("H51010100001", province="310000")
    assert err.value.errors[0]["field"] == "code"


@pytest.mark.parametrize("code", ["H3101010000", "X31010100001", "H99010100001", "h31010100001x"])
def test_malformed_institution_codes_are_refused(code):
    with pytest.raises(ValidationFailed):
        hospital(code)


def test_institution_code_is_normalised():
    assert hospital("ｈ３１０１０１０００１２").code == "H31010100012"


def test_province_staff_cannot_register_a_hospital_of_another_province():
    sichuan = staff(Role.PROVINCE_STAFF, province="510000")
    with pytest.raises(Forbidden) as err:
        services.hospital_register(code="H31010100001", name="x", province_code="310000", user=sichuan)
    assert err.value.code == "wrong_province"


def test_register_hospital_command_creates_the_hospital():
    call_command("register_hospital", "H31010100007", "--name", "瑞金医院", "--province", "310000", "--level", "3A", stdout=io.StringIO())
    assert Hospital.objects.filter(code="H31010100007", level="3A", province__code="310000").exists()


def test_register_hospital_command_names_the_bad_field():
    with pytest.raises(CommandError, match="level"):
        call_command("register_hospital", "H31010100007", "--name", "x", "--province", "310000", "--level", "4A", stdout=io.StringIO())


def test_issue_api_key_command_prints_only_a_working_key():
    hospital("H31010100001")
    out = io.StringIO()
    call_command("issue_api_key", "H31010100001", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert key_client(lines[0]).get("/api/v1/hospital/").status_code == 200


def test_revoke_api_key_command_revokes_every_key_of_the_hospital():
    h = hospital("H31010100001")
    keys = [issue_key(h), issue_key(h)]
    call_command("revoke_api_key", "H31010100001", stdout=io.StringIO())
    assert [key_client(k).get("/api/v1/hospital/").status_code for k in keys] == [401, 401]


def test_revoke_api_key_command_with_unknown_prefix_fails():
    hospital("H31010100001")
    with pytest.raises(CommandError, match="prefix"):
        call_command("revoke_api_key", "H31010100001", "--prefix", "Nope123456", stdout=io.StringIO())
