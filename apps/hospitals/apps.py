from django.apps import AppConfig


class HospitalsConfig(AppConfig):
    name = "apps.hospitals"
    label = "hospitals"
    verbose_name = "Hospitals and change notices"

    def ready(self) -> None:
        from apps.catalog.signals import release_publishing

        from .receivers import write_notices_on_publish

        release_publishing.connect(write_notices_on_publish, dispatch_uid="hospitals.notices_on_publish")
