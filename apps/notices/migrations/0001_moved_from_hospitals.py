"""Notices become their own app: the webhook endpoint, outbox, delivery, attempt, acknowledgement
and item-usage models move here from ``hospitals`` without copying a row.

The tables are renamed ``hospitals_*`` → ``notices_*`` (as are the outbox trigger and its
function, and the endpoint index whose name was generated from the old table); the state
operations replay the models' history from hospitals 0003-0005 under the new app label. The
same steps run on a fresh database (where hospitals 0003 has just created the tables) and on
one migrated at the old layout. Content types (and so permissions and admin log entries) and
the beat schedule's task name follow the move. Then the new columns of this round: a soft
``deleted_at`` on endpoints and the coarse error codes hospitals see.
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

TABLES = [
    "changenotice",
    "webhookendpoint",
    "noticecounter",
    "noticedelivery",
    "deliveryattempt",
    "releaseacknowledgement",
    "itemusage",
    "historicalwebhookendpoint",
    "historicalnoticedelivery",
    "historicalreleaseacknowledgement",
]

MODELS = TABLES

RENAME_SQL = (
    "".join(f"ALTER TABLE hospitals_{t} RENAME TO notices_{t};\n" for t in TABLES)
    + """
ALTER TRIGGER hospitals_change_notice_immutable ON notices_changenotice RENAME TO notices_change_notice_immutable;
ALTER FUNCTION hospitals_change_notice_guard() RENAME TO notices_change_notice_guard;
"""
)

RENAME_BACK_SQL = """
ALTER FUNCTION notices_change_notice_guard() RENAME TO hospitals_change_notice_guard;
ALTER TRIGGER notices_change_notice_immutable ON notices_changenotice RENAME TO hospitals_change_notice_immutable;
""" + "".join(f"ALTER TABLE notices_{t} RENAME TO hospitals_{t};\n" for t in TABLES)

BEAT_TASKS = {"hospitals.deliver_due": "notices.deliver_due", "hospitals.deliver_batch": "notices.deliver_batch"}


def _move_content_types(source, target):
    def run(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        # A content type the target app already has (created by a post_migrate elsewhere) wins.
        taken = set(ContentType.objects.filter(app_label=target, model__in=MODELS).values_list("model", flat=True))
        ContentType.objects.filter(app_label=source, model__in=MODELS).exclude(model__in=taken).update(app_label=target)

    return run


def _rename_beat_tasks(mapping, old_name, new_name):
    def run(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        for old, new in mapping.items():
            PeriodicTask.objects.filter(task=old).update(task=new)
        if not PeriodicTask.objects.filter(name=new_name).exists():
            PeriodicTask.objects.filter(name=old_name).update(name=new_name)

    return run


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("catalog", "0002_published_releases_are_immutable"),
        ("hospitals", "0005_delivery_leaner_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(RENAME_SQL, RENAME_BACK_SQL)],
            state_operations=[
                migrations.CreateModel(
                    name="ChangeNotice",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("seq", models.BigIntegerField()),
                        (
                            "event_type",
                            models.CharField(
                                choices=[("catalog.release.published", "Release Published")],
                                default="catalog.release.published",
                                max_length=64,
                            ),
                        ),
                        ("webhook_id", models.CharField(max_length=64, unique=True)),
                        (
                            "affected_items",
                            models.JSONField(
                                blank=True, help_text="Changed/retired items among the codes the hospital reported using.", null=True
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "hospital",
                            models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="notices", to="hospitals.hospital"),
                        ),
                        (
                            "release",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="notices", to="catalog.catalogrelease"
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["hospital_id", "seq"],
                    },
                ),
                migrations.CreateModel(
                    name="HistoricalReleaseAcknowledgement",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("loaded_at", models.DateTimeField()),
                        ("items_count", models.PositiveIntegerField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(blank=True, editable=False)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        (
                            "history_user",
                            models.ForeignKey(
                                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "hospital",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="hospitals.hospital",
                            ),
                        ),
                        (
                            "release",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="catalog.catalogrelease",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "historical release acknowledgement",
                        "verbose_name_plural": "historical release acknowledgements",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name="HistoricalWebhookEndpoint",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("url", models.URLField(max_length=500)),
                        ("previous_secret_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("event_types", models.JSONField(blank=True, default=list, help_text="Empty = every event type.")),
                        ("active", models.BooleanField(default=True)),
                        ("disabled_reason", models.CharField(blank=True, default="", max_length=255)),
                        ("disabled_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "failing_since",
                            models.DateTimeField(blank=True, help_text="Start of the current run of failed attempts.", null=True),
                        ),
                        ("created_at", models.DateTimeField(blank=True, editable=False)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        (
                            "history_user",
                            models.ForeignKey(
                                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "hospital",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="hospitals.hospital",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "historical webhook endpoint",
                        "verbose_name_plural": "historical webhook endpoints",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.CreateModel(
                    name="ItemUsage",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("code", models.CharField(max_length=32)),
                        ("reported_at", models.DateTimeField()),
                        (
                            "hospital",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="item_usage", to="hospitals.hospital"
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["hospital_id", "code"],
                    },
                ),
                migrations.CreateModel(
                    name="NoticeCounter",
                    fields=[
                        (
                            "hospital",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="notice_counter",
                                serialize=False,
                                to="hospitals.hospital",
                            ),
                        ),
                        ("last_seq", models.BigIntegerField(default=0)),
                        (
                            "last_release",
                            models.ForeignKey(
                                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="catalog.catalogrelease"
                            ),
                        ),
                    ],
                ),
                migrations.CreateModel(
                    name="NoticeDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        (
                            "state",
                            models.CharField(
                                choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        (
                            "attempts",
                            models.PositiveIntegerField(default=0, help_text="Attempts in the current round (reset by a replay)."),
                        ),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("lease_until", models.DateTimeField(blank=True, null=True)),
                        ("last_status", models.IntegerField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, default="", max_length=255)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("failed_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "notice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="notices.changenotice"
                            ),
                        ),
                    ],
                    options={
                        "verbose_name_plural": "notice deliveries",
                        "ordering": ["-id"],
                    },
                ),
                migrations.CreateModel(
                    name="DeliveryAttempt",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("attempted_at", models.DateTimeField()),
                        ("status_code", models.IntegerField(blank=True, null=True)),
                        ("latency_ms", models.IntegerField()),
                        ("error", models.CharField(blank=True, default="", max_length=255)),
                        ("response_excerpt", models.CharField(blank=True, default="", max_length=500)),
                        (
                            "delivery",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="attempt_log", to="notices.noticedelivery"
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["delivery_id", "attempted_at", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="ReleaseAcknowledgement",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("loaded_at", models.DateTimeField()),
                        ("items_count", models.PositiveIntegerField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "hospital",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="acknowledgements", to="hospitals.hospital"
                            ),
                        ),
                        (
                            "release",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT, related_name="acknowledgements", to="catalog.catalogrelease"
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["-acknowledged_at"],
                    },
                ),
                migrations.CreateModel(
                    name="WebhookEndpoint",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("url", models.URLField(max_length=500)),
                        ("secret", models.CharField(editable=False, max_length=128)),
                        ("previous_secret", models.CharField(blank=True, default="", editable=False, max_length=128)),
                        ("previous_secret_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("event_types", models.JSONField(blank=True, default=list, help_text="Empty = every event type.")),
                        ("active", models.BooleanField(default=True)),
                        ("disabled_reason", models.CharField(blank=True, default="", max_length=255)),
                        ("disabled_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "failing_since",
                            models.DateTimeField(blank=True, help_text="Start of the current run of failed attempts.", null=True),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "hospital",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE, related_name="webhook_endpoints", to="hospitals.hospital"
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["hospital_id", "id"],
                    },
                ),
                migrations.AddField(
                    model_name="noticedelivery",
                    name="endpoint",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="notices.webhookendpoint"
                    ),
                ),
                migrations.CreateModel(
                    name="HistoricalNoticeDelivery",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        (
                            "state",
                            models.CharField(
                                choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        (
                            "attempts",
                            models.PositiveIntegerField(default=0, help_text="Attempts in the current round (reset by a replay)."),
                        ),
                        ("last_status", models.IntegerField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, default="", max_length=255)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("failed_at", models.DateTimeField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(blank=True, editable=False)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        (
                            "history_user",
                            models.ForeignKey(
                                null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "notice",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="notices.changenotice",
                            ),
                        ),
                        (
                            "endpoint",
                            models.ForeignKey(
                                blank=True,
                                db_constraint=False,
                                null=True,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="notices.webhookendpoint",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "historical notice delivery",
                        "verbose_name_plural": "historical notice deliveries",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
                migrations.AddConstraint(
                    model_name="changenotice",
                    constraint=models.UniqueConstraint(fields=("hospital", "seq"), name="change_notice_seq_unique_per_hospital"),
                ),
                migrations.AddConstraint(
                    model_name="changenotice",
                    constraint=models.UniqueConstraint(fields=("hospital", "release", "event_type"), name="change_notice_once_per_release"),
                ),
                migrations.AddConstraint(
                    model_name="changenotice",
                    constraint=models.CheckConstraint(condition=models.Q(("seq__gt", 0)), name="change_notice_seq_positive"),
                ),
                migrations.AddConstraint(
                    model_name="itemusage",
                    constraint=models.UniqueConstraint(fields=("hospital", "code"), name="item_usage_code_unique_per_hospital"),
                ),
                migrations.AddConstraint(
                    model_name="noticecounter",
                    constraint=models.CheckConstraint(condition=models.Q(("last_seq__gte", 0)), name="notice_counter_nonnegative"),
                ),
                migrations.AddIndex(
                    model_name="deliveryattempt",
                    index=models.Index(fields=["delivery", "attempted_at"], name="delivery_attempt_idx"),
                ),
                migrations.AddConstraint(
                    model_name="releaseacknowledgement",
                    constraint=models.UniqueConstraint(fields=("hospital", "release"), name="release_ack_once_per_hospital"),
                ),
                migrations.AddIndex(
                    model_name="webhookendpoint",
                    index=models.Index(fields=["hospital", "active"], name="hospitals_w_hospita_0b9c62_idx"),
                ),
                migrations.AddConstraint(
                    model_name="webhookendpoint",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("secret__startswith", "whsec_")), name="webhook_endpoint_secret_set"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="webhookendpoint",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("active", True), models.Q(("disabled_reason", ""), _negated=True), _connector="OR"),
                        name="webhook_endpoint_disabled_has_reason",
                    ),
                ),
                migrations.AddIndex(
                    model_name="noticedelivery",
                    index=models.Index(fields=["state", "next_attempt_at"], name="notice_delivery_due_idx"),
                ),
                migrations.AddIndex(
                    model_name="noticedelivery",
                    index=models.Index(fields=["endpoint", "state"], name="notice_delivery_endpoint_idx"),
                ),
                migrations.AddConstraint(
                    model_name="noticedelivery",
                    constraint=models.UniqueConstraint(fields=("notice", "endpoint"), name="notice_delivery_once_per_endpoint"),
                ),
                migrations.AddConstraint(
                    model_name="noticedelivery",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("state__in", ["pending", "delivered", "failed"])), name="notice_delivery_state_valid"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="noticedelivery",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("state", "delivered"), _negated=True), ("delivered_at__isnull", False), _connector="OR"
                        ),
                        name="notice_delivery_delivered_has_time",
                    ),
                ),
                migrations.AddField(
                    model_name="historicalnoticedelivery",
                    name="lease_until",
                    field=models.DateTimeField(blank=True, null=True),
                ),
                migrations.AddField(
                    model_name="historicalnoticedelivery",
                    name="next_attempt_at",
                    field=models.DateTimeField(blank=True, null=True),
                ),
                migrations.RemoveIndex(
                    model_name="noticedelivery",
                    name="notice_delivery_due_idx",
                ),
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="delivery",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="attempt_log", to="notices.noticedelivery"
                    ),
                ),
                migrations.AlterField(
                    model_name="noticedelivery",
                    name="endpoint",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="notices.webhookendpoint"
                    ),
                ),
                migrations.AlterField(
                    model_name="noticedelivery",
                    name="notice",
                    field=models.ForeignKey(
                        db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="notices.changenotice"
                    ),
                ),
                migrations.AddIndex(
                    model_name="noticedelivery",
                    index=models.Index(
                        condition=models.Q(("state", "pending")), fields=["next_attempt_at"], name="notice_delivery_due_idx"
                    ),
                ),
            ],
        ),
        migrations.RunPython(_move_content_types("hospitals", "notices"), _move_content_types("notices", "hospitals")),
        migrations.RunPython(
            _rename_beat_tasks(BEAT_TASKS, "hospitals-deliver-due", "notices-deliver-due"),
            _rename_beat_tasks({v: k for k, v in BEAT_TASKS.items()}, "notices-deliver-due", "hospitals-deliver-due"),
        ),
        migrations.RenameIndex(
            model_name="webhookendpoint", new_name="webhook_endpoint_hospital_idx", old_name="hospitals_w_hospita_0b9c62_idx"
        ),
        # This round's columns: soft deletion of endpoints, the coarse errors a hospital sees.
        migrations.AddField(
            model_name="webhookendpoint",
            name="deleted_at",
            field=models.DateTimeField(blank=True, help_text="Deleted by the hospital or staff; kept for the record.", null=True),
        ),
        migrations.AddField(
            model_name="historicalwebhookendpoint",
            name="deleted_at",
            field=models.DateTimeField(blank=True, help_text="Deleted by the hospital or staff; kept for the record.", null=True),
        ),
        migrations.AddConstraint(
            model_name="webhookendpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(("deleted_at__isnull", True), ("active", False), _connector="OR"),
                name="webhook_endpoint_deleted_is_inactive",
            ),
        ),
        migrations.AddField(
            model_name="noticedelivery", name="last_error_code", field=models.CharField(blank=True, default="", max_length=32)
        ),
        migrations.AddField(
            model_name="historicalnoticedelivery", name="last_error_code", field=models.CharField(blank=True, default="", max_length=32)
        ),
        migrations.AddField(model_name="deliveryattempt", name="error_code", field=models.CharField(blank=True, default="", max_length=32)),
    ]
