from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.models import Job

from .conftest import PERIOD, csv_bytes, row


def test_import_then_run_through_the_api_reports_counts_and_net_positions(
    recon: Any, api: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = api(recon.maker)
    for side in ("home", "destination"):
        upload = SimpleUploadedFile("s.csv", csv_bytes(row("S1"), row("S2", fund=100 if side == "home" else 200, total=10000)))
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/settlements/imports/", {"file": upload, "side": side, "period": PERIOD}, format="multipart")
        assert response.status_code == 202, response.json()
        assert Job.objects.get(pk=response.json()["job"]["id"]).state == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/reconciliation/runs/", {"period": PERIOD}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.state == "succeeded"
    detail = client.get(f"/api/v1/reconciliation/runs/{job.result['run']}/").json()
    assert detail["counts"]["matched"] == 1 and detail["counts"]["amount_mismatch"] == 2
    assert sum(detail["net_positions"].values()) == 0 and len(detail["transfer_ids"]) == 1
    csv_text = b"".join(
        client.get(f"/api/v1/reconciliation/runs/{job.result['run']}/discrepancies.csv?home=510000&destination=310000").streaming_content
    ).decode()
    assert csv_text.count("amount_mismatch") == 2


def test_a_bad_period_is_refused_at_request_time(recon: Any, api: Any) -> None:
    assert api(recon.maker).post("/api/v1/reconciliation/runs/", {"period": "2026-13"}, format="json").status_code == 400
