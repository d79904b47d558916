from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data `make run` loads. It sits above every other app (it may import them all)."""

    name = "apps.demo"
    label = "demo"
