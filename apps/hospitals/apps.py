from django.apps import AppConfig


class HospitalsConfig(AppConfig):
    name = "apps.hospitals"
    label = "hospitals"
    verbose_name = "Hospitals and API keys"
