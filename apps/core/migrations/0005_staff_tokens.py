"""Staff API tokens move from DRF's plain-text authtoken table to hashed, expiring knox tokens
(core.StaffToken). The old table is dropped: tokens issued before this migration stop working,
and staff request new ones (POST /api/v1/auth/token/ or manage.py issue_token)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_analyze_as_owner"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="StaffToken",
            fields=[
                ("digest", models.CharField(max_length=128, primary_key=True, serialize=False)),
                ("token_key", models.CharField(db_index=True, max_length=25)),
                ("created", models.DateTimeField(auto_now_add=True)),
                ("expiry", models.DateTimeField(blank=True, null=True)),
                (
                    "otp_verified",
                    models.BooleanField(default=False, help_text="Issued after a one-time code of the user's TOTP device was checked."),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="auth_token_set", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "verbose_name": "staff API token",
                "indexes": [models.Index(fields=["user", "expiry"], name="staff_token_by_user")],
                "constraints": [models.CheckConstraint(condition=models.Q(("expiry__isnull", False)), name="staff_token_expires")],
            },
        ),
        # rest_framework.authtoken is no longer installed; its rows were plain-text secrets.
        migrations.RunSQL(
            ["DROP TABLE IF EXISTS authtoken_token", "DELETE FROM django_migrations WHERE app = 'authtoken'"],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
