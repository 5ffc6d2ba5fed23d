from django.conf import settings
from django.db import models

from core.models import TimeStampedModel


class Organization(TimeStampedModel):
    """The tenant: a buyer or trader whose procurement system owns shipments and applications.

    Every other tenant-owned row points here; API keys belong to one organization.
    """

    class Kind(models.TextChoices):
        BUYER = "buyer", "Buyer"
        TRADER = "trader", "Trader"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BUYER)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="organizations",
        help_text="Staff who act for this organization in the browsable API.",
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
