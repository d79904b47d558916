"""A hospital engineer's integration, done the way one is done: generate a Python client from the
served ``/api/schema/`` with openapi-python-client (a generator nobody here wrote), then drive
every hospital-facing operation through it against a live server with a real API key. A schema
that lies (an enum missing "", a list documented as an array, an undocumented status) makes the
generated code raise, so this test fails where the hospital's integration would."""

from __future__ import annotations

import datetime as dt
import gzip
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from apps.benefits import services as benefits
from apps.benefits.selectors import province_by_code
from apps.catalog import services as catalog
from apps.catalog.demo import generate_items
from apps.core.roles import Role
from tests.factories import publish, staff
from tests.security import world as w

from .conftest import LiveWorld

PACKAGE = "portal_client"
# live_server needs committed rows; the flush after the test must not take the provinces and
# cities the migrations load away from later tests.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _generate(tmp_path: Path, url: str) -> Any:
    schema = tmp_path / "schema.json"
    schema.write_bytes(httpx.get(f"{url}/api/schema/?format=json", timeout=30).raise_for_status().content)
    generator = Path(sys.executable).with_name("openapi-python-client")
    out = subprocess.run(
        [str(generator), "generate", "--path", str(schema), "--meta", "none", "--output-path", str(tmp_path / PACKAGE)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The generator warns (and leaves an operation or a response out) where it cannot read the schema.
    assert "WARNING" not in out.stdout + out.stderr, out.stdout + out.stderr
    sys.path.insert(0, str(tmp_path))
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]
    return importlib.import_module(PACKAGE)


def _op(tag: str, name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def _cursor(next_url: Any) -> str | None:
    if not isinstance(next_url, str):
        return None
    return parse_qs(urlparse(next_url).query)["cursor"][0]


@pytest.fixture
def successor_release(live_world: LiveWorld) -> dict[str, str]:
    """2026.06, published after the world's 2026.01: one code retired with a successor."""
    world = live_world.world
    items = list(generate_items(8, seed=11))
    retired = items[1]["code"]
    successor = {**next(iter(generate_items(1, seed=99, start=700))), "replaces": [retired]}
    draft = catalog.release_create_draft(
        label="2026.06", effective_from=dt.date(2026, 6, 1), user=world.users[w.CATALOG_ADMIN], based_on=world.published
    )
    catalog.item_delete(release=draft, code=retired, user=world.users[w.CATALOG_ADMIN])
    catalog.item_put(release=draft, data=successor, user=world.users[w.CATALOG_ADMIN])
    publish(draft, admin=world.users[w.CATALOG_ADMIN], reviewer=world.users[w.CATALOG_REVIEWER])
    # Province A's outpatient policy for 2026, drafted by one of its staff and approved by another.
    author = staff(Role.PROVINCE_STAFF, w.A, username="policy-author-a")
    policy = benefits.policy_create_draft(
        user=author,
        province=province_by_code(w.A),
        scheme="employee",
        setting="outpatient",
        effective_from=dt.date(2026, 1, 1),
        effective_to=dt.date(2027, 1, 1),
        deductible_fen=0,
        ratio_category_a="0.9",
        ratio_category_b="0.8",
        annual_cap_fen=40_000_000,
    )
    benefits.policy_submit(policy=policy, user=author)
    benefits.policy_approve(policy=policy, user=world.users[w.PROVINCE_A])
    return {"retired": retired, "successor": successor["code"], "active": items[0]["code"]}


@pytest.mark.integration
def test_a_client_generated_from_the_schema_drives_every_hospital_operation(
    live_world: LiveWorld, successor_release: dict[str, str], tmp_path: Path
) -> None:
    portal = _generate(tmp_path, live_world.url)
    # Every generated operation module imports (one the generator cannot type breaks at import).
    operations = [m.name for m in pkgutil.walk_packages(importlib.import_module(f"{PACKAGE}.api").__path__, f"{PACKAGE}.api.")]
    for name in operations:
        importlib.import_module(name)
    assert len(operations) > 80
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    client = portal.AuthenticatedClient(
        base_url=live_world.url, token=live_world.hospital_key, prefix="Api-Key", raise_on_unexpected_status=True
    )
    cat = "catalog_hospitals"

    # Releases: the list envelope, and the one in force on a date.
    releases = _op(cat, "api_v1_catalog_releases_list").sync(client=client)
    assert [r.label for r in releases.results] == ["2026.06", "2026.01"]
    in_force = _op(cat, "api_v1_catalog_releases_list").sync(client=client, in_force_on=dt.date(2026, 3, 1))
    assert [r.label for r in in_force.results] == ["2026.01"] and in_force.next_ is None

    # Manifest with its ETag; 304 when the client sends it back.
    manifest_op = _op(cat, "api_v1_catalog_releases_retrieve")
    first = manifest_op.sync_detailed(client=client, label="2026.06")
    assert first.status_code == 200 and first.parsed.counts.total == 8
    again = manifest_op.sync_detailed(client=client, label="2026.06", if_none_match=first.headers["ETag"])
    assert again.status_code == 304

    # Items, page after page to the end (page_size 3: three pages), with the blank hospital level.
    items_op = _op(cat, "api_v1_catalog_releases_items_list")
    codes: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = items_op.sync(client=client, label="2026.06", page_size=3, cursor=cursor if cursor else types.UNSET)
        pages += 1
        codes += [item.code for item in page.results]
        levels = {item.restriction_hospital_level for item in page.results}
        assert levels <= {*models.RestrictionHospitalLevelEnum, *models.BlankEnum}
        cursor = _cursor(page.next_)
        if cursor is None:
            break
    assert pages == 3 and len(codes) == 8 and codes == sorted(codes) and successor_release["successor"] in codes

    # Search (q) answers the same envelope and item shape.
    found = items_op.sync(client=client, label="2026.06", q=successor_release["successor"][:6])
    assert successor_release["successor"] in [item.code for item in found.results]

    # Look-up: active, retired (with its successor), unknown (404 code_unknown).
    lookup = _op(cat, "api_v1_catalog_items_retrieve")
    active = lookup.sync(client=client, code=successor_release["active"], on=dt.date(2026, 7, 1))
    assert isinstance(active, models.LookupActive) and active.release == "2026.06"
    retired = lookup.sync(client=client, code=successor_release["retired"], on=dt.date(2026, 7, 1))
    assert isinstance(retired, models.LookupRetired) and retired.successors == [successor_release["successor"]]
    unknown = lookup.sync_detailed(client=client, code="XA01ABD075A002010199999")
    assert unknown.status_code == 404 and unknown.parsed.code == "code_unknown"

    # Diff since the older release.
    diff = _op(cat, "api_v1_catalog_releases_diff_retrieve").sync(client=client, label="2026.06", since="2026.01")
    assert [r["code"] for r in diff.retired] == [successor_release["retired"]] and diff.since == "2026.01"

    # The export files, as bytes (gzip).
    export = _op(cat, "api_v1_catalog_releases_export_csv_gz_retrieve").sync_detailed(client=client, label="2026.06")
    assert export.status_code == 200 and gzip.decompress(export.content).startswith(b"code,")

    # Bulk validation, local items.
    validated = _op(cat, "api_v1_catalog_validate_create").sync(
        client=client,
        body=models.ValidateRequestRequest(codes=[successor_release["active"], successor_release["retired"], "T000000000"]),
    )
    assert [r.status for r in validated.results] == ["active", "retired", "unknown"]
    local = _op(cat, "api_v1_catalog_local_items_list").sync(client=client)
    assert local.results == [] and local.next_ is None

    # Pre-check one line.
    precheck_op = _op("api", "api_v1_claims_precheck_create")
    line = models.ClaimLineRequest(line_no=1, code=successor_release["active"], quantity="1", amount_fen=1000)
    body = models.PrecheckRequestRequest(
        home_province=w.A,
        date_of_service=dt.date(2026, 7, 1),
        scheme=models.SchemeEnum.EMPLOYEE,
        setting=models.SettingEnum.OUTPATIENT,
        lines=[line],
    )
    checked = precheck_op.sync(client=client, body=body)
    assert isinstance(checked, models.PrecheckResponse), checked
    assert [result.line_no for result in checked.lines] == [1]

    # Notices (the two publishes), then the acknowledgement (idempotent: 201, then 200).
    notices = _op("api", "api_v1_notices_retrieve").sync(client=client)
    assert [n["release"]["label"] for n in notices.results][-1] == "2026.06"
    ack_op = _op("api", "api_v1_catalog_releases_ack_create")
    body_ack = models.AckRequest(loaded_at=dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC), items_count=8)
    assert ack_op.sync_detailed(client=client, label="2026.06", body=body_ack).status_code == 201
    assert ack_op.sync_detailed(client=client, label="2026.06", body=body_ack).status_code == 200

    # Who am I; my keys.
    hosp = "hospital"
    me = _op(hosp, "api_v1_hospital_retrieve").sync(client=client)
    assert me.code == w.PLANT[w.A]["hospital"][0]
    keys = _op(hosp, "api_v1_hospital_keys_list").sync(client=client)
    assert me.key_prefix in [k.prefix for k in keys.results]
    assert _op(hosp, "api_v1_hospital_keys_retrieve").sync(client=client, prefix=me.key_prefix).prefix == me.key_prefix

    # Webhook endpoints: register, list, read, change, test, rotate, delete.
    create = _op("api", "api_v1_webhooks_endpoints_create").sync(
        client=client, body=models.EndpointCreateRequest(url="http://127.0.0.1:9/generated-client")
    )
    assert create.secret.startswith("whsec_")
    listed = _op("api", "api_v1_webhooks_endpoints_list").sync(client=client)
    assert create.id in [e.id for e in listed.results]
    assert _op("api", "api_v1_webhooks_endpoints_retrieve").sync(client=client, id=create.id).url.endswith("/generated-client")
    patched = _op("api", "api_v1_webhooks_endpoints_partial_update").sync(
        client=client, id=create.id, body=models.PatchedEndpointUpdateRequest(active=False)
    )
    assert patched.active is False
    ping = _op("api", "api_v1_webhooks_endpoints_test_create").sync(client=client, id=create.id)
    assert ping.delivered is False
    rotated = _op("api", "api_v1_webhooks_endpoints_rotate_secret_create").sync(
        client=client, id=create.id, body=models.RotateRequest(retire_old_now=True)
    )
    assert rotated.secret != create.secret
    assert _op("api", "api_v1_webhooks_endpoints_destroy").sync_detailed(client=client, id=create.id).status_code == 204
    gone = _op("api", "api_v1_webhooks_endpoints_retrieve").sync_detailed(client=client, id=create.id)
    assert gone.status_code == 404 and gone.parsed.code == "not_found"

    # Deliveries of this hospital's notices.
    deliveries = _op("api", "api_v1_notices_deliveries_list").sync(client=client)
    assert deliveries.results

    # Code mappings: upload a JSON list (a job), follow the job, read the statuses.
    rows = [
        models.MappingRowRequest(local_code="L-1", local_name="本院甲", national_code=successor_release["active"]),
        models.MappingRowRequest(local_code="L-2", local_name="本院乙", national_code=successor_release["retired"]),
    ]
    queued = _op(hosp, "api_v1_hospital_mappings_update").sync(client=client, body=rows)
    job = _op("api", "api_v1_jobs_retrieve").sync(client=client, id=queued.job.id)
    assert job.state == models.JobStateEnum.SUCCEEDED, job
    mappings = _op(hosp, "api_v1_hospital_mappings_retrieve").sync(client=client, on=dt.date(2026, 7, 1))
    assert {m.local_code: m.status for m in mappings.results} == {"L-1": "ok", "L-2": "retired"}

    # A wrong key: 401 in the envelope the schema documents.
    stranger = portal.AuthenticatedClient(base_url=live_world.url, token="nope.nope", prefix="Api-Key")
    refused = _op(hosp, "api_v1_hospital_retrieve").sync_detailed(client=stranger)
    assert refused.status_code == 401 and refused.parsed.code == "not_authenticated"
