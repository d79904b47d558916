"""The monthly clearing statement of one province for one run (issue 18): what the province owes
and receives per counterpart province over the run's matched claims, its net position, the
transfers that settle it and its advance (预付金) with the top-up the clearing called for.

Reads only (the statement is a view of a run, the selectors' kind of code); kept apart from
``selectors`` because it is a document with its own shape, rendered as JSON or as PDF."""

from __future__ import annotations

from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from apps.benefits.models import Province
from apps.core.errors import Forbidden, ValidationFailed
from apps.core.permissions import bound_province
from apps.pooling import selectors as pooling_selectors

from . import selectors
from .models import ReconciliationRun


def statement_province(*, user: Any, requested: str) -> str:
    """The province whose statement ``user`` reads: a province-bound reader her own (naming
    another is 403 ``wrong_province``); a national reader must name one (400 otherwise)."""
    requested = selectors.requested_province(requested)
    own = bound_province(user)
    if own:
        if requested and requested != own:
            raise Forbidden(
                format_lazy(_("you read the statements of province {own}, not {requested}"), own=own, requested=requested),
                code="wrong_province",
            )
        return own
    if not requested:
        raise ValidationFailed(
            _("name the province of the statement"),
            errors=[{"field": "province", "code": "required", "message": "?province=CODE (GB/T 2260)"}],
        )
    return requested


def clearing_statement(*, run: ReconciliationRun, province: str) -> dict[str, Any]:
    """The province's clearing statement of ``run`` (money in fen):

    ``counterparts``: per counterpart province (code order) ``owes_fen`` (the fund share of the
    province's insured treated there, matched claims), ``receives_fen`` (the fund share of the
    counterpart's insured treated in the province), the claim counts,
    ``adjustments_owed_fen`` / ``adjustments_received_fen`` (resolved discrepancies netted in the
    run, the province as home / as destination) and ``net_fen`` (everything received − everything
    owed); ``totals`` over them; ``adjustments``: those discrepancies, each with its counterpart
    and direction; ``net_position_fen`` as the run settled it (earlier transfers of the
    month counted as paid); ``transfers``: the run's proposals paid or received by the province,
    in their current state; ``advance``: when the province pre-funds clearing, its advance over
    the period and the top-ups proposed after this clearing. Raises ValidationFailed
    ``province_not_in_run`` when the run has nothing of the province."""
    pairs = selectors.run_pairs(run=run, province=province)
    positions = dict(selectors.run_net_positions(run=run, province=province))
    adjustments = selectors.run_summary_for(run=run, province=province).get("adjustments", [])
    if not pairs and not adjustments and province not in positions:
        raise ValidationFailed(
            format_lazy(_("reconciliation run #{id} has no claims of province {province}"), id=run.pk, province=province),
            errors=[{"field": "province", "code": "province_not_in_run", "message": "choose a province of the run"}],
        )
    rows: dict[str, dict[str, Any]] = {}

    def counterpart(code: str) -> dict[str, Any]:
        return rows.setdefault(
            code,
            {
                "province": code,
                "owes_fen": 0,
                "receives_fen": 0,
                "claims_owed": 0,
                "claims_received": 0,
                "adjustments_owed_fen": 0,
                "adjustments_received_fen": 0,
            },
        )

    for pair in pairs:
        home = pair["home"] == province
        row = counterpart(pair["destination"] if home else pair["home"])
        row["owes_fen" if home else "receives_fen"] += pair["fund_fen"]
        row["claims_owed" if home else "claims_received"] += pair["matched"]
    netted = []
    for a in adjustments:
        home = a["home"] == province
        other = a["destination"] if home else a["home"]
        counterpart(other)["adjustments_owed_fen" if home else "adjustments_received_fen"] += int(a["amount_fen"] or 0)
        netted.append({**a, "counterpart": other, "direction": "pays" if home else "receives"})
    names = dict(Province.objects.filter(code__in=[province, *rows]).values_list("code", "name"))
    counterparts = []
    for code in sorted(rows):
        row = rows[code]
        received = row["receives_fen"] + row["adjustments_received_fen"]
        owed = row["owes_fen"] + row["adjustments_owed_fen"]
        counterparts.append({**row, "name": names.get(code, ""), "net_fen": received - owed})
    transfers = [
        {
            "id": t.pk,
            "from_province": t.from_account.province_code,
            "from_account": t.from_account.name,
            "to_province": t.to_account.province_code,
            "to_account": t.to_account.name,
            "amount_fen": t.amount_fen,
            "state": t.state,
            "direction": "pays" if t.from_account.province_code == province else "receives",
        }
        for t in selectors.run_transfers(run=run, province=province)
    ]
    advance = None
    if pooling_selectors.prefunds_clearing(province_code=province):
        advance = pooling_selectors.advance_statement(province_code=province, period=run.period)
        advance["topups"] = [
            {"id": t.pk, "amount_fen": t.amount_fen, "state": t.state}
            for t in pooling_selectors.advance_topups_after_clearing(province_code=province, period=run.period)
        ]
    owes = sum(r["owes_fen"] for r in counterparts)
    receives = sum(r["receives_fen"] for r in counterparts)
    adjustments_owed = sum(r["adjustments_owed_fen"] for r in counterparts)
    adjustments_received = sum(r["adjustments_received_fen"] for r in counterparts)
    return {
        "run": run.pk,
        "period": run.period,
        "province": province,
        "province_name": names.get(province, ""),
        "counterparts": counterparts,
        "totals": {
            "owes_fen": owes,
            "receives_fen": receives,
            "adjustments_owed_fen": adjustments_owed,
            "adjustments_received_fen": adjustments_received,
            "net_fen": receives + adjustments_received - owes - adjustments_owed,
        },
        "adjustments": netted,
        "net_position_fen": positions.get(province, 0),
        "transfers": transfers,
        "advance": advance,
    }
