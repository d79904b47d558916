from typing import Any

from django.core.management.base import BaseCommand

from apps.demo.seed import DEMO_PASSWORD, DEMO_USERS, seed_all


class Command(BaseCommand):
    help = "Load the demo data `make run` uses (idempotent) and print the logins."

    def handle(self, *args: Any, **opts: Any) -> None:
        users = seed_all()
        self.stdout.write("Demo data loaded. Log in at http://127.0.0.1:8000/admin/ with:")
        self.stdout.write(f"  admin / {DEMO_PASSWORD}   (superuser)")
        for username, role, province in DEMO_USERS:
            where = f" @{province}" if province else ""
            self.stdout.write(f"  {username} / {DEMO_PASSWORD}   ({role}{where})")
        base = "http://127.0.0.1:8000"
        self.stdout.write(f"Staff home (every page by role): {base}/staff/")
        self.stdout.write(f"API documentation (works offline): {base}/api/docs/")
        key = users.get("hospital_key")
        if key:
            self.stdout.write(f"Hospital API key of H31010100001 (shown once, a new one each run): {key}")
            self.stdout.write(f'  try: curl -H "Authorization: Api-Key {key}" {base}/api/v1/catalog/releases/?in_force_on=2026-06-01')
        self.stdout.write(
            "  more keys: python -m config.embedded_db issue_api_key H31010100001 "
            "(or admin > Hospitals > API keys); a hospital sends them as 'Authorization: Api-Key <key>'"
        )
        run = users.get("reconciliation_run")
        if run is not None:
            # Finance staff and auditors read it; sh_finance_maker sees the pairs with Shanghai.
            self.stdout.write(f"Reconciliation of {run.period}: http://127.0.0.1:8000/reconciliation/runs/{run.pk}/")
