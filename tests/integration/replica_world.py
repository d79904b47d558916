"""Writes for the read-replica tests, run as a separate process against the pair's primary
(``DATABASE_URL``), as an operator's publish would be: prints one JSON line.

    python -m tests.integration.replica_world hospital
    python -m tests.integration.replica_world publish N
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from apps.catalog.demo import generate_items
    from apps.core.roles import Role
    from tests.factories import published_release, staff
    from tests.hospitals.api_helpers import hospital, issue_key

    if argv[0] == "hospital":
        print(json.dumps({"key": issue_key(hospital("H31010100001"))}))
        return
    n = int(argv[1])
    admin = staff(Role.CATALOG_ADMIN, username=f"replica-admin-{n}")
    reviewer = staff(Role.CATALOG_REVIEWER, username=f"replica-reviewer-{n}")
    items = list(generate_items(5, seed=n))
    release = published_release(
        label=f"R{n}-p{os.getpid()}",
        effective_from=dt.date(2026, 1, 1) + dt.timedelta(days=31 * n),
        admin=admin,
        reviewer=reviewer,
        items=items,
    )
    print(json.dumps({"label": release.label, "codes": sorted(i["code"] for i in items)}))


if __name__ == "__main__":
    main(sys.argv[1:])
