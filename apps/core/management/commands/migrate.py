"""``migrate`` as the owner of the tables when ``MIGRATE_DATABASE_URL`` is set.

Web and worker processes connect with ``DATABASE_URL`` as a role that owns nothing (see
``apps.core.dbroles``); only migrations need the owner. With ``MIGRATE_DATABASE_URL`` set, this
command connects with its credentials (same database: the name always comes from
``DATABASE_URL``, so a test run still migrates its test database), migrates, then grants the
``DATABASE_URL`` role its privileges on whatever the migrations created. Unset: Django's migrate.
"""

from typing import Any

import environ
from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import connections

from apps.core.dbroles import app_role_grant
from apps.core.errors import DomainError

CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


class Command(migrate.Command):
    help = migrate.Command.help + " With MIGRATE_DATABASE_URL set: as that (owner) role, then grants DATABASE_URL's role."

    def handle(self, *args: Any, **options: Any) -> None:
        url = str(getattr(settings, "MIGRATE_DATABASE_URL", "") or "")
        if not url:
            super().handle(*args, **options)
            return
        connection = connections[options["database"]]
        owner = environ.Env.db_url_config(url)
        app_role = str(connection.settings_dict.get("USER") or "")
        saved = {key: connection.settings_dict.get(key) for key in CREDENTIALS}
        connection.close()
        connection.settings_dict.update({key: owner.get(key, "") for key in CREDENTIALS})
        try:
            super().handle(*args, **options)
            if options["plan"] or options["check_unapplied"] or not app_role or app_role == owner.get("USER"):
                return
            try:
                app_role_grant(role=app_role, using=options["database"])
            except DomainError as exc:
                raise CommandError(exc.detail) from exc
            if options["verbosity"] >= 1:
                self.stdout.write(f"granted {app_role} the application's privileges")
        finally:
            connection.close()
            connection.settings_dict.update(saved)
