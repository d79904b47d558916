from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from apps.reconciliation.netting import net_positions, settle

PROVINCES = [f"{n:02d}0000" for n in range(11, 31)]
flows = st.lists(st.tuples(st.sampled_from(PROVINCES), st.sampled_from(PROVINCES), st.integers(min_value=0, max_value=10**12)), max_size=60)


@given(flows)
def test_net_transfers_settle_every_province_in_at_most_n_minus_one_transfers(bilateral: list[tuple[str, str, int]]) -> None:
    positions = net_positions(bilateral)
    assert sum(positions.values()) == 0
    transfers = settle(positions)
    after = dict(positions)
    for payer, payee, amount in transfers:
        assert amount > 0
        after[payer] += amount
        after[payee] -= amount
    assert all(v == 0 for v in after.values())
    involved = [p for p, v in positions.items() if v != 0]
    assert len(transfers) <= max(len(involved) - 1, 0)
    payers, payees = {t[0] for t in transfers}, {t[1] for t in transfers}
    assert not payers & payees  # each province either pays or receives


# Resolved discrepancies enter netting as extra flows (home pays destination the resolved fund share).
adjustments = st.lists(
    st.tuples(st.sampled_from(PROVINCES), st.sampled_from(PROVINCES), st.integers(min_value=0, max_value=10**11)), max_size=40
)


@given(flows, adjustments)
def test_netting_with_resolved_adjustments_still_sums_to_zero_in_at_most_n_minus_one_transfers(
    matched: list[tuple[str, str, int]], resolved: list[tuple[str, str, int]]
) -> None:
    positions = net_positions([*matched, *resolved])
    assert sum(positions.values()) == 0
    transfers = settle(positions)
    after = dict(positions)
    for payer, payee, amount in transfers:
        assert amount > 0
        after[payer] += amount
        after[payee] -= amount
    assert all(v == 0 for v in after.values())
    assert len(transfers) <= max(len([p for p, v in positions.items() if v != 0]) - 1, 0)
    # what each province pays or receives is its matched flows plus its resolved ones
    for province, position in positions.items():
        expected = sum(a for p, q, a in [*matched, *resolved] if q == province and p != q) - sum(
            a for p, q, a in [*matched, *resolved] if p == province and p != q
        )
        assert position == expected
