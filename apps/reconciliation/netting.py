"""Multilateral netting: pure functions, no database.

``net_positions`` turns bilateral flows (payer owes payee an amount in fen) into one signed
position per province (positive: receives). ``settle`` returns transfers that bring every
position to zero: the largest debtor pays the largest creditor, which zeroes at least one of
them per transfer, so there are at most n−1 transfers and every province only pays or only
receives. Deterministic (ties broken by province code).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class NettingError(AssertionError):
    pass


def net_positions(flows: Iterable[tuple[str, str, int]]) -> dict[str, int]:
    """{province: receives − pays} from (payer, payee, amount_fen) flows; asserts the sum is zero."""
    positions: dict[str, int] = {}
    for payer, payee, amount in flows:
        if payer == payee or amount == 0:
            continue
        positions[payer] = positions.get(payer, 0) - amount
        positions[payee] = positions.get(payee, 0) + amount
    check_balanced(positions)
    return positions


def check_balanced(positions: Mapping[str, int]) -> None:
    total = sum(positions.values())
    if total != 0:
        raise NettingError(f"net positions sum to {total} fen, not zero")


def settle(positions: Mapping[str, int]) -> list[tuple[str, str, int]]:
    """(payer, payee, amount_fen) transfers settling ``positions`` (which must sum to zero)."""
    check_balanced(positions)
    debtors = sorted(((-v, p) for p, v in positions.items() if v < 0), key=lambda t: (-t[0], t[1]))
    creditors = sorted(((v, p) for p, v in positions.items() if v > 0), key=lambda t: (-t[0], t[1]))
    transfers: list[tuple[str, str, int]] = []
    i = j = 0
    owe = [d[0] for d in debtors]
    due = [c[0] for c in creditors]
    while i < len(debtors) and j < len(creditors):
        amount = min(owe[i], due[j])
        transfers.append((debtors[i][1], creditors[j][1], amount))
        owe[i] -= amount
        due[j] -= amount
        if owe[i] == 0:
            i += 1
        if due[j] == 0:
            j += 1
    return transfers
