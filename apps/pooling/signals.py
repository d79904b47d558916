"""Signals pooling listens to from the apps above it.

``clearing_recorded``: the monthly cross-province clearing (reconciliation, which sits above
pooling and may import it) sends it inside the transaction that stores a run, so what pooling
keeps of it commits or rolls back with the run. Keyword arguments:

- ``period``: ``"YYYY-MM"``;
- ``pairs``: ``[(home_province, destination_province, matched_claims, fund_fen), …]``, every
  pair of provinces the run moves money between (home pays destination): the fund share of the
  claims matched on both sides plus the resolved discrepancies netted in the run as
  adjustments (a pair may carry adjustments only: ``matched_claims`` 0);
- ``source``: who reported it, e.g. ``"reconciliation run #12"``.

Pooling's receiver (connected in ``PoolingConfig.ready``) records the month's settled amounts
per province (``ClearingResult``, what province budgets are compared with) and, after commit,
checks the advance funds (top-up proposals) and the budget alerts. Pooling never imports the
sender.
"""

from __future__ import annotations

from django.dispatch import Signal

clearing_recorded = Signal()
