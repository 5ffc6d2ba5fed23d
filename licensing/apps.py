from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Export licensing"

    def ready(self) -> None:
        # drf-spectacular finds extensions (the Api-Key security scheme) by import: load them
        # at startup, not only when some request happens to import the schema class first.
        from licensing.api.v1 import schema  # noqa: F401
