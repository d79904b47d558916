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
        run = users.get("reconciliation_run")
        if run is not None:
            # Finance staff and auditors read it; sh_finance_maker sees the pairs with Shanghai.
            self.stdout.write(f"Reconciliation of {run.period}: http://127.0.0.1:8000/reconciliation/runs/{run.pk}/")
