from tests.pooling.conftest import ledger, people  # noqa: F401 - fixtures shared with the pooling suite
from tests.reconciliation.conftest import recon_default_plan  # noqa: F401
from tests.security.test_db_invariants_as_app_role import app_role, app_sql  # noqa: F401
