from django.apps import AppConfig


class BenefitsConfig(AppConfig):
    name = "apps.benefits"
    label = "benefits"
    verbose_name = "Provincial benefits"
