"""The risk-adjustment rule as arithmetic only (no database): the same function serves the
provincial level (regions ↔ provincial fund) and the national level (provinces ↔ national
fund), the services feed it, and the property tests drive it with random figures.

The rule is ``FORMULA`` below (stored with every run and shown with it). So contributions are never negative, the pot never exceeds the contributions, and the
allocations never exceed the pot: they add up to it exactly, or to 0.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FORMULA = """\
For units i = 1..n with fund income I_i, expenditure E_i, active insured A_i and retirees R_i:
contribution_i = round_half_up(I_i × s)                 s = contribution_share
pot            = round_half_up(Σ contribution_i × a)    a = allocation_share
dependency_i   = R_i / max(A_i, 1)
deficit_i      = max(0, E_i − I_i)
weight_i       = w_dep × dependency_i / Σ dependency + w_def × deficit_i / Σ deficit
                 (a term whose sum is 0 counts 0)
allocation_i   = pot split by weight_i by largest remainder (whole fen, Σ allocation_i = pot),
                 or 0 for every unit when every weight is 0 (the pot stays in the fund)"""


@dataclass(frozen=True)
class UnitFigures:
    """One pooling unit's figures for the period (a region, or a province at the national level)."""

    code: str
    name: str
    fund_income_fen: int
    fund_expenditure_fen: int
    active_insured: int
    retirees: int


@dataclass(frozen=True)
class RuleParameters:
    contribution_share: Decimal
    allocation_share: Decimal
    weight_dependency: Decimal
    weight_deficit: Decimal

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class UnitResult:
    figures: UnitFigures
    dependency_ratio: Decimal
    deficit_fen: int
    weight: Decimal
    contribution_fen: int
    allocation_fen: int

    def as_dict(self) -> dict[str, Any]:
        """The row a run stores and shows: inputs, intermediate values, results."""
        f = self.figures
        return {
            "code": f.code,
            "name": f.name,
            "fund_income_fen": f.fund_income_fen,
            "fund_expenditure_fen": f.fund_expenditure_fen,
            "active_insured": f.active_insured,
            "retirees": f.retirees,
            "dependency_ratio": str(self.dependency_ratio.quantize(Decimal("0.0001"))),
            "deficit_fen": self.deficit_fen,
            "weight": str(self.weight.quantize(Decimal("0.000001"))),
            "contribution_fen": self.contribution_fen,
            "allocation_fen": self.allocation_fen,
        }


@dataclass(frozen=True)
class Plan:
    units: list[UnitResult]
    contributions_fen: int
    pot_fen: int
    allocations_fen: int


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(total: int, weights: Sequence[Decimal]) -> list[int]:
    """Split ``total`` fen by ``weights`` into whole fen that add up exactly to ``total``
    (ties of the remainder go to the earlier unit); all zeros when nothing has weight."""
    weight_sum = sum(weights, Decimal(0))
    if total <= 0 or weight_sum <= 0:
        return [0] * len(weights)
    exact = [Decimal(total) * w / weight_sum for w in weights]
    shares = [int(x) for x in exact]  # floor: every x ≥ 0
    left = total - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))[:left]:
        shares[index] += 1
    return shares


def plan(units: Sequence[UnitFigures], rule: RuleParameters) -> Plan:
    """Contributions and allocations of ``units`` under ``rule`` (see the module docstring)."""
    contributions = [_round(Decimal(u.fund_income_fen) * rule.contribution_share) for u in units]
    total = sum(contributions)
    pot = _round(Decimal(total) * rule.allocation_share)
    dependency = [Decimal(u.retirees) / Decimal(max(u.active_insured, 1)) for u in units]
    deficits = [max(0, u.fund_expenditure_fen - u.fund_income_fen) for u in units]
    dep_sum = sum(dependency, Decimal(0))
    def_sum = sum(deficits)
    weights = [
        (rule.weight_dependency * d / dep_sum if dep_sum else Decimal(0))
        + (rule.weight_deficit * Decimal(x) / Decimal(def_sum) if def_sum else Decimal(0))
        for d, x in zip(dependency, deficits, strict=True)
    ]
    allocations = largest_remainder(pot, weights)
    results = [
        UnitResult(figures=u, dependency_ratio=d, deficit_fen=x, weight=w, contribution_fen=c, allocation_fen=a)
        for u, d, x, w, c, a in zip(units, dependency, deficits, weights, contributions, allocations, strict=True)
    ]
    return Plan(units=results, contributions_fen=total, pot_fen=pot, allocations_fen=sum(allocations))


def inputs_fingerprint(units: Sequence[UnitFigures], rule: RuleParameters, *, rule_id: int) -> str:
    """SHA-256 of everything a plan depends on: a rerun with the same fingerprint is the same run."""
    body = {
        "rule": rule_id,
        "parameters": rule.as_dict(),
        "units": [[u.code, u.fund_income_fen, u.fund_expenditure_fen, u.active_insured, u.retirees] for u in units],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
