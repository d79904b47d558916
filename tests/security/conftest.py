"""Fixtures shared with the pooling suite (ledger with provinces and accounts, finance people)."""

from tests.pooling.conftest import ledger, people  # noqa: F401
