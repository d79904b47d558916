from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "apps.notices"
    label = "notices"
    verbose_name = _("Change notices and webhooks")

    def ready(self) -> None:
        from apps.catalog.signals import release_publishing

        from .receivers import write_notices_on_publish

        # Inside the publishing transaction (not on commit): the outbox commits or rolls back
        # with the release, and delivery is queued on commit by the outbox writer.
        release_publishing.connect(write_notices_on_publish, dispatch_uid="notices.notices_on_publish")
