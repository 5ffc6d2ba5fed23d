from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager

from licensing.models.organizations import Organization


class OrganizationAPIKeyManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("organization")


class OrganizationAPIKey(AbstractAPIKey):
    """An organization's key to the API, stored hashed: a public prefix and a SHA-512 hash.

    The full key is shown once, at creation. Revoking is final. A read-only key may only
    use safe methods (GET, HEAD, OPTIONS).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    is_read_only = models.BooleanField(
        default=False, help_text="Read-only keys get 403 on every write."
    )

    objects = OrganizationAPIKeyManager()

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self) -> str:
        mode = "read-only" if self.is_read_only else "read-write"
        return f"{self.organization}: {self.name} ({self.prefix}…, {mode})"
