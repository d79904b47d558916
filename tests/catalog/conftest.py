"""The application role's fixtures, for the history partition tests that run as it."""

from tests.security.test_db_invariants_as_app_role import app_role, app_sql  # noqa: F401
