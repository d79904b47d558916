"""CSV formula injection: text that came from an imported file and starts like a spreadsheet
formula (= + - @ TAB CR) is neutralised in every CSV export. The catalog export is covered field by
field in tests/catalog/test_exports.py; this covers the reconciliation discrepancies export, whose
text cells (settlement id, release label) come straight from settlement files."""

from __future__ import annotations

import csv
import io

import pytest

from tests.reconciliation import conftest as reconciliation_fixtures
from tests.reconciliation.conftest import row

recon = reconciliation_fixtures.recon_default_plan  # one plan: the subject here is the CSV export
PREFIXES = ["=", "+", "-", "@", "\t"]


def _export(api, recon, run) -> list[dict[str, str]]:
    response = api(recon.maker).get(f"/api/v1/reconciliation/runs/{run.pk}/discrepancies.csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("prefix", PREFIXES)
def test_settlement_id_that_looks_like_a_formula_is_neutralised(api, recon, prefix):
    sid = f'{prefix}HYPERLINK("http://evil","x")' if prefix != "\t" else "\tcmd"
    recon.load("destination", row(sid.replace(",", ";").replace('"', "")))
    rows = _export(api, recon, recon.run())
    assert [r["settlement_id"] for r in rows] == ["'" + sid.replace(",", ";").replace('"', "")]


def test_release_label_that_looks_like_a_formula_is_neutralised_in_the_values(api, recon):
    recon.both(row("S1", label="=1+2"))
    cells = [v for r in _export(api, recon, recon.run()) for v in r.values()]
    assert [v for v in cells if v.startswith(("=", "+", "@", "\t"))] == []


def test_negative_amount_deltas_stay_numbers(api, recon):
    recon.load("home", row("S1", total=10000, fund=7000))
    recon.load("destination", row("S1", total=9000, fund=6000))
    deltas = {r["delta_fen"] for r in _export(api, recon, recon.run()) if r["delta_fen"]}
    assert deltas == {"-1000"}
