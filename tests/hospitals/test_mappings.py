"""Code mapping (对码): a hospital uploads its local-code → national-code set (a job, all or
nothing), lists it with each mapping's status against the release in force, and hears in its
next change notice how many mappings a newly published release breaks."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.catalog import services as catalog
from apps.core.models import AuditAction, AuditEvent, Job
from apps.core.roles import Role
from apps.hospitals.models import CodeMapping, MappingCheck
from apps.notices import services as notices
from tests.factories import draft_release, publish, staff
from tests.hospitals.api_helpers import hospital, issue_key, key_client
from tests.integration.receiver import Receiver

pytestmark = pytest.mark.django_db

URL = "/api/v1/hospital/mappings/"
KEPT = "XA01ABD075A002010100483"
RETIRED, SUCCESSOR = "001102000010000", "001102000020000"
REMOVED = "T000000001"
FUTURE_ONLY = "C0101010010100103941"  # only in a release that takes effect later
NEVER = "XA01ABD075A002010100777"
JAN_2025, JAN_2026, JUL_2026 = dt.date(2025, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 7, 1)
SPRING = dt.date(2026, 3, 1)
CSV = (
    "local_code,local_name,national_code\n"
    f"L001,阿莫西林胶囊,{KEPT}\n"
    f"L002,一般诊疗费,{RETIRED}\n"
    f"L003,黄芪,{REMOVED}\n"
    f"L004,注射器,{FUTURE_ONLY}\n"
    f"L005,未知,{NEVER}\n"
)


@pytest.fixture
def catalog_world(catalog_admin, reviewer):
    first = publish(
        draft_release(
            label="2025.01",
            effective_from=JAN_2025,
            user=catalog_admin,
            items=[
                {"code": KEPT, "name": "阿莫西林胶囊", "category": "01"},
                {"code": RETIRED, "name": "一般诊疗费", "category": "01"},
                {"code": REMOVED, "name": "黄芪", "category": "01"},
            ],
        ),
        admin=catalog_admin,
        reviewer=reviewer,
    )
    second = draft_release(label="2026.01", effective_from=JAN_2026, user=catalog_admin, based_on=first)
    catalog.item_put(
        release=second, data={"code": SUCCESSOR, "name": "普通门诊诊查费", "category": "01", "replaces": [RETIRED]}, user=catalog_admin
    )
    catalog.item_delete(release=second, code=RETIRED, user=catalog_admin)
    catalog.item_delete(release=second, code=REMOVED, user=catalog_admin)
    second = publish(second, admin=catalog_admin, reviewer=reviewer)
    later = draft_release(label="2026.07", effective_from=JUL_2026, user=catalog_admin, based_on=second)
    catalog.item_put(release=later, data={"code": FUTURE_ONLY, "name": "一次性使用无菌注射器", "category": "02"}, user=catalog_admin)
    publish(later, admin=catalog_admin, reviewer=reviewer)
    return first, second


@pytest.fixture
def mine():
    h = hospital("H31010100001", "310000")
    return h, key_client(issue_key(h))


def upload_csv(client, text: str, capture) -> Any:
    with capture(execute=True):
        response = client.put(URL, {"file": SimpleUploadedFile("m.csv", text.encode(), content_type="text/csv")}, format="multipart")
    return response


def job_of(response) -> Job:
    assert response.status_code == 202, response.content
    return Job.objects.get(pk=response.json()["job"]["id"])


def listed(client, **params) -> list[tuple[str, str]]:
    response = client.get(URL, {"on": SPRING.isoformat(), **params})
    assert response.status_code == 200, response.content
    return [(row["local_code"], row["status"]) for row in response.json()["results"]]


def test_an_uploaded_csv_becomes_the_hospitals_mapping_with_a_status_each(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    assert job_of(upload_csv(client, CSV, django_capture_on_commit_callbacks)).state == Job.State.SUCCEEDED
    assert listed(client) == [("L001", "ok"), ("L002", "retired"), ("L003", "retired"), ("L004", "not_in_force"), ("L005", "unknown")]


def test_a_retired_mapping_names_the_items_that_replace_its_code(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    rows = client.get(URL, {"on": SPRING.isoformat(), "status": "retired"}).json()["results"]
    assert [(r["local_code"], r["successors"]) for r in rows] == [("L002", [SUCCESSOR]), ("L003", [])]


def test_the_status_is_checked_against_the_release_in_force_on_the_date(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    assert listed(client, on="2025-06-01")[:3] == [("L001", "ok"), ("L002", "ok"), ("L003", "ok")]


def test_status_filter_takes_several_statuses(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    assert listed(client, status="unknown,not_in_force") == [("L004", "not_in_force"), ("L005", "unknown")]


def test_an_unknown_status_filter_is_refused(mine):
    _, client = mine
    response = client.get(URL, {"status": "broken"})
    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "invalid_choice")


def test_the_list_pages_by_local_code(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    seen, url = [], f"{URL}?page_size=2&on={SPRING.isoformat()}"
    while url:
        body = client.get(url).json()
        seen += [row["local_code"] for row in body["results"]]
        url = body["next"]
    assert seen == ["L001", "L002", "L003", "L004", "L005"]


def test_a_json_list_is_accepted_like_a_csv_file(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put(
            URL,
            [{"local_code": "J1", "local_name": "x", "national_code": KEPT}, {"local_code": "J2", "national_code": NEVER}],
            format="json",
        )
    assert (job_of(response).state, listed(client)) == (Job.State.SUCCEEDED, [("J1", "ok"), ("J2", "unknown")])


def test_a_bad_file_changes_nothing_and_lists_every_bad_row(catalog_world, mine, django_capture_on_commit_callbacks):
    h, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    bad = "local_code,national_code\nA1,XA01\n,T000000002\nA1," + KEPT + "\n"
    job = job_of(upload_csv(client, bad, django_capture_on_commit_callbacks))
    assert (job.state, [(e["line"], e["column"], e["code"]) for e in job.errors], CodeMapping.objects.filter(hospital=h).count()) == (
        Job.State.FAILED,
        [(2, "national_code", "code_format"), (3, "local_code", "missing_field"), (4, "local_code", "duplicate_code")],
        5,
    )


def test_a_json_record_that_is_no_object_is_a_row_error(mine, django_capture_on_commit_callbacks):
    _, client = mine
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put(URL, [{"local_code": "J1", "national_code": KEPT}, "J2"], format="json")
    assert [(e["line"], e["code"]) for e in job_of(response).errors] == [(2, "invalid")]


def test_a_csv_header_outside_the_layout_is_refused_on_line_1(mine, django_capture_on_commit_callbacks):
    _, client = mine
    job = job_of(upload_csv(client, "local_code,colour,local_code\nL1,red,L1\n", django_capture_on_commit_callbacks))
    assert [(e["line"], e["column"], e["code"]) for e in job.errors] == [
        (1, "colour", "unknown_column"),
        (1, "local_code", "duplicate_column"),
        (1, "national_code", "missing_field"),
    ]


def test_a_json_record_with_a_key_outside_the_layout_names_it_on_its_record(mine, django_capture_on_commit_callbacks):
    _, client = mine
    record = {"local_code": "J2", "national_code": KEPT, "colour": "red", "k" * 100: "x"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.put(URL, [{"local_code": "J1", "national_code": KEPT}, record], format="json")
    assert [(e["line"], e["column"], e["code"]) for e in job_of(response).errors] == [
        (2, "colour", "unknown_column"),
        (2, "k" * 64, "unknown_column"),
    ]


def test_a_second_upload_replaces_the_set_and_records_history_and_one_audit_event(catalog_world, mine, django_capture_on_commit_callbacks):
    h, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    before = AuditEvent.objects.filter(action=AuditAction.MAPPINGS_REPLACED).count()
    job = job_of(upload_csv(client, f"local_code,national_code\nL001,{SUCCESSOR}\nL009,{KEPT}\n", django_capture_on_commit_callbacks))
    history = sorted(
        CodeMapping.history.filter(hospital_id=h.pk, history_date__gte=job.started_at).values_list("local_code", "history_type")
    )
    assert (
        sorted(CodeMapping.objects.filter(hospital=h).values_list("local_code", "national_code")),
        history,
        AuditEvent.objects.filter(action=AuditAction.MAPPINGS_REPLACED).count() - before,
    ) == (
        [("L001", SUCCESSOR), ("L009", KEPT)],
        [("L001", "~"), ("L002", "-"), ("L003", "-"), ("L004", "-"), ("L005", "-"), ("L009", "+")],
        1,
    )


def test_a_hospital_follows_its_own_upload_job_but_not_another_hospitals(mine, django_capture_on_commit_callbacks):
    _, client = mine
    other = key_client(issue_key(hospital("H31010100002", "310000")))
    job = job_of(upload_csv(client, f"local_code,national_code\nL1,{KEPT}\n", django_capture_on_commit_callbacks))
    assert (client.get(f"/api/v1/jobs/{job.pk}/").status_code, other.get(f"/api/v1/jobs/{job.pk}/").status_code) == (200, 404)


def test_another_hospital_never_sees_this_hospitals_mappings(catalog_world, mine, django_capture_on_commit_callbacks):
    _, client = mine
    upload_csv(client, CSV, django_capture_on_commit_callbacks)
    other = key_client(issue_key(hospital("H51010100001", "510000")))
    assert other.get(URL).json()["results"] == []


@override_settings(HOSPITAL_MAPPING_MAX_BYTES=100)
def test_an_upload_above_the_size_limit_is_refused_with_413(mine, django_capture_on_commit_callbacks):
    _, client = mine
    response = upload_csv(client, CSV, django_capture_on_commit_callbacks)
    assert (response.status_code, response.json()["code"]) == (413, "request_too_large")


@override_settings(HOSPITAL_MAPPING_MAX_ROWS=2)
def test_a_file_with_more_rows_than_allowed_is_refused(mine, django_capture_on_commit_callbacks):
    _, client = mine
    job = job_of(upload_csv(client, CSV, django_capture_on_commit_callbacks))
    assert [e["code"] for e in job.errors] == ["too_many_rows"]


# --- a publish re-checks every hospital's mappings --------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def _retire_kept(catalog_admin, reviewer):
    """A release, effective 2027, that retires KEPT (its successor takes over)."""
    from apps.catalog.models import CatalogRelease

    base = CatalogRelease.objects.get(label="2026.07")
    draft = draft_release(label="2027.01", effective_from=dt.date(2027, 1, 1), user=catalog_admin, based_on=base)
    catalog.item_put(
        release=draft,
        data={"code": "XA01ABD075A002010100484", "name": "阿莫西林胶囊", "category": "01", "replaces": [KEPT]},
        user=catalog_admin,
    )
    catalog.item_delete(release=draft, code=KEPT, user=catalog_admin)
    return draft


def test_a_mapping_broken_by_a_publish_shows_up_in_that_hospitals_next_notice(
    catalog_world, mine, catalog_admin, reviewer, receiver, django_capture_on_commit_callbacks
):
    h, client = mine
    _, secret = notices.endpoint_create(hospital=h, url=receiver.url("hook"))
    receiver.expect("hook", secret)
    upload_csv(client, f"local_code,national_code\nL001,{KEPT}\nL006,{SUCCESSOR}\n", django_capture_on_commit_callbacks)
    draft = _retire_kept(catalog_admin, reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        publish(draft, admin=catalog_admin, reviewer=reviewer)
    (arrived,) = [r for r in receiver.for_path("hook") if r.body and r.body["release"]["label"] == "2027.01"]
    issues = arrived.body["mapping_issues"]
    assert (
        arrived.verified,
        issues["count"],
        issues["url"].endswith("/api/v1/hospital/mappings/?on=2027-01-01&status=retired,not_in_force,unknown"),
    ) == (
        True,
        1,
        True,
    )


def test_the_link_in_the_notice_lists_the_broken_mapping(catalog_world, mine, catalog_admin, reviewer, django_capture_on_commit_callbacks):
    _, client = mine
    upload_csv(client, f"local_code,national_code\nL001,{KEPT}\nL006,{SUCCESSOR}\n", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        publish(_retire_kept(catalog_admin, reviewer), admin=catalog_admin, reviewer=reviewer)
    (notice,) = [n for n in client.get("/api/v1/notices/").json()["results"] if n["release"]["label"] == "2027.01"]
    rows = client.get(notice["mapping_issues"]["url"]).json()["results"]
    assert [(r["local_code"], r["status"], r["successors"]) for r in rows] == [("L001", "retired", ["XA01ABD075A002010100484"])]


def _three_hospitals_then_a_publish(catalog_admin: Any, reviewer: Any, capture: Any, *, b_maps_to: str) -> tuple[Any, Any, Any, Any]:
    """Hospital a maps KEPT and NEVER, b maps ``b_maps_to``, the third maps nothing; then a
    release that retires KEPT is published and its after-commit check runs."""
    a, b, none = hospital("H31010100001", "310000"), hospital("H51010100001", "510000"), hospital("H31010100003", "310000")
    for h, text in ((a, f"local_code,national_code\nL1,{KEPT}\nL2,{NEVER}\n"), (b, f"local_code,national_code\nL1,{b_maps_to}\n")):
        upload_csv(key_client(issue_key(h)), text, capture)
    with capture(execute=True):
        release = publish(_retire_kept(catalog_admin, reviewer), admin=catalog_admin, reviewer=reviewer)
    return a, b, none, release


def test_the_after_commit_check_counts_every_hospitals_broken_mappings(
    catalog_world, catalog_admin, reviewer, django_capture_on_commit_callbacks
):
    a, b, none, release = _three_hospitals_then_a_publish(catalog_admin, reviewer, django_capture_on_commit_callbacks, b_maps_to=SUCCESSOR)
    checks = {c.hospital_id: (c.total, c.issues) for c in MappingCheck.objects.filter(release=release)}
    assert checks == {a.pk: (2, 2), b.pk: (1, 0)} and none.pk not in checks


def test_notice_counts_come_from_the_stored_check_else_counted_now_and_not_at_all_without_either(
    catalog_world, catalog_admin, reviewer, django_capture_on_commit_callbacks
):
    from apps.hospitals.mapping_selectors import mapping_issues_for_notices

    a, b, none, release = _three_hospitals_then_a_publish(catalog_admin, reviewer, django_capture_on_commit_callbacks, b_maps_to=KEPT)
    MappingCheck.objects.filter(hospital=a).delete()  # a: no check yet, counted now
    CodeMapping.objects.filter(hospital=b).delete()  # b: its mappings gone, its check stands
    pairs = [(a.pk, release.pk), (b.pk, release.pk), (none.pk, release.pk)]
    assert mapping_issues_for_notices(pairs) == {(a.pk, release.pk): 2, (b.pk, release.pk): 1}


def test_a_hospital_without_mappings_gets_no_mapping_issues_in_its_notice(
    catalog_world, mine, catalog_admin, reviewer, django_capture_on_commit_callbacks
):
    _, client = mine
    with django_capture_on_commit_callbacks(execute=True):
        publish(_retire_kept(catalog_admin, reviewer), admin=catalog_admin, reviewer=reviewer)
    (notice,) = [n for n in client.get("/api/v1/notices/").json()["results"] if n["release"]["label"] == "2027.01"]
    assert "mapping_issues" not in notice


# --- the staff page ---------------------------------------------------------------------------


def test_province_staff_see_their_provinces_hospitals_with_broken_mappings_only(
    catalog_world, catalog_admin, reviewer, client, django_capture_on_commit_callbacks
):
    a, b = hospital("H31010100001", "310000"), hospital("H51010100001", "510000")
    for h in (a, b):
        upload_csv(key_client(issue_key(h)), f"local_code,national_code\nL1,{KEPT}\n", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        publish(_retire_kept(catalog_admin, reviewer), admin=catalog_admin, reviewer=reviewer)
    client.force_login(staff(Role.PROVINCE_STAFF, "310000", username="sh-staff"))
    page = client.get("/hospitals/mappings/").content.decode()
    assert (a.code in page, b.code in page) == (True, False)


def test_province_staff_cannot_open_another_provinces_hospital(catalog_world, client, django_capture_on_commit_callbacks):
    b = hospital("H51010100001", "510000")
    upload_csv(key_client(issue_key(b)), f"local_code,national_code\nL1,{NEVER}\n", django_capture_on_commit_callbacks)
    client.force_login(staff(Role.PROVINCE_STAFF, "310000", username="sh-staff"))
    assert client.get(f"/hospitals/mappings/{b.code}/").status_code == 404


def test_the_hospital_page_lists_its_broken_mappings(catalog_world, client, django_capture_on_commit_callbacks):
    a = hospital("H31010100001", "310000")
    upload_csv(key_client(issue_key(a)), f"local_code,national_code\nL1,{KEPT}\nL2,{NEVER}\n", django_capture_on_commit_callbacks)
    client.force_login(staff(Role.CATALOG_ADMIN, username="admin-2"))
    page = client.get(f"/hospitals/mappings/{a.code}/").content.decode()
    assert ("L2" in page, NEVER in page, ">L1<" in page) == (True, True, False)


def test_pulled_notice_body_is_json_serialisable_with_mapping_issues(
    catalog_world, mine, catalog_admin, reviewer, django_capture_on_commit_callbacks
):
    _, client = mine
    upload_csv(client, f"local_code,national_code\nL1,{KEPT}\n", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        publish(_retire_kept(catalog_admin, reviewer), admin=catalog_admin, reviewer=reviewer)
    body = client.get("/api/v1/notices/").json()["results"][-1]
    assert json.loads(json.dumps(body))["mapping_issues"]["count"] == 1
