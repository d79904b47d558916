"""The simulation for policy staff: one claim treated at home and in the destination.

Each side is priced with its own province's service price schedule (a line without an amount,
or any service-item line with a price in force there, costs price × quantity, rounded half-up
to a fen), then adjudicated with that side's catalog scope and the home province's benefits:
the seed's "higher out-of-pocket costs due to differences in medical prices" shows as the
difference. Lines whose code has no price in a province keep the amount the claim gives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from apps.core.errors import ValidationFailed

from .adjudication import Claim, ClaimLine, ClaimResult, adjudicate
from .selectors import service_prices


@dataclass(frozen=True)
class SimulatedLine:
    """A line of the simulated claim: ``amount_fen`` may be left out where prices exist."""

    line_no: int
    code: str
    quantity: Decimal = Decimal(1)
    amount_fen: int | None = None
    days: int | None = None


@dataclass
class Simulation:
    at_home: ClaimResult
    away: ClaimResult
    pricing: dict[str, list[dict[str, Any]]]  # side -> [{line_no, unit_price_fen, amount_fen, priced_from}]

    def as_dict(self) -> dict[str, Any]:
        return {"at_home": self.at_home.as_dict(), "away": self.away.as_dict(), "pricing": self.pricing}

    @property
    def priced_by_line(self) -> dict[str, dict[int, dict[str, Any]]]:
        """{side: {line_no: pricing}} for pages."""
        return {side: {note["line_no"]: note for note in notes} for side, notes in self.pricing.items()}


def _priced(fen: int, quantity: Decimal) -> int:
    return int((Decimal(fen) * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def simulate(*, claim: Claim, lines: list[SimulatedLine], destination_province: str) -> Simulation:
    """Adjudicate ``claim`` (its own lines are ignored) at home and in ``destination_province``,
    each side priced by its schedule. Raises ValidationFailed ``price_unknown`` for a line without
    an amount whose code has no price on one side, and the adjudication's own errors."""
    home = claim.home_province
    on_date: dt.date = claim.date_of_service
    prices = service_prices(province_codes={home, destination_province}, codes={line.code for line in lines}, on_date=on_date)
    sides = {"at_home": home, "away": destination_province}
    claims: dict[str, Claim] = {}
    pricing: dict[str, list[dict[str, Any]]] = {}
    for side, province in sides.items():
        priced_lines, notes = [], []
        for line in lines:
            price = prices.get((province, line.code))
            if price is not None:
                amount, source = _priced(price, line.quantity), "schedule"
            elif line.amount_fen is not None:
                amount, source = line.amount_fen, "claim"
            else:
                message = f"line {line.line_no}: {line.code} has no price in {province} on {on_date}; give its amount_fen"
                raise ValidationFailed(
                    message,
                    code="price_unknown",
                    errors=[{"field": f"lines.{line.line_no}.amount_fen", "code": "price_unknown", "message": message}],
                )
            priced_lines.append(ClaimLine(line_no=line.line_no, code=line.code, amount_fen=amount, quantity=line.quantity, days=line.days))
            notes.append({"line_no": line.line_no, "unit_price_fen": price, "amount_fen": amount, "priced_from": source})
        claims[side] = replace(claim, destination_province=province, lines=tuple(priced_lines))
        pricing[side] = notes
    return Simulation(adjudicate(claims["at_home"]), adjudicate(claims["away"]), pricing)
