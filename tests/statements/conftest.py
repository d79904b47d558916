from tests.pooling.conftest import ledger, people  # noqa: F401 - fixtures shared with the pooling suite
