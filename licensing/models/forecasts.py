"""The survival curves the expected-decision forecast reads, one row per stratum."""

from django.db import models
from django_countries.fields import CountryField

from licensing.models.catalogue import ControlledItem, LicensingAuthority, MaterialFamily
from licensing.models.organizations import Organization


class ForecastLevel(models.TextChoices):
    """The strata of the fallback hierarchy, most specific first (see licensing.forecast)."""

    AUTHORITY_ITEM_DESTINATION = "authority_item_destination", "authority, item and destination"
    AUTHORITY_ITEM = "authority_item", "authority and item"
    AUTHORITY_MATERIAL_FAMILY = "authority_material_family", "authority and material family"
    AUTHORITY = "authority", "authority"


class ForecastCurve(models.Model):
    """The decision-time history of one stratum, as Kaplan-Meier counts, refitted nightly.

    Written whole by `licensing.services.forecasts.forecast_refresh_all` (all rows replaced in
    one transaction) and read by the per-application refresh, so an application's window can
    be recomputed after a change without refitting. `organization` is null when organizations
    pool their anonymised durations (SHARE_ANONYMOUS_STATS); a pooled stratum is stored only
    when decisions of at least POOL_MIN_ORGANIZATIONS organizations are in it.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    authority = models.ForeignKey(LicensingAuthority, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=32, choices=ForecastLevel.choices)
    item = models.ForeignKey(
        ControlledItem, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    material_family = models.CharField(max_length=32, choices=MaterialFamily.choices, blank=True)
    destination_country = CountryField(blank=True)
    counts = models.JSONField(
        help_text="[[duration, decided, censored], ...] in counting days, ascending."
    )
    decided = models.PositiveIntegerField(
        help_text="Decisions (approvals and denials) in the stratum."
    )
    censored = models.PositiveIntegerField(
        help_text="Withdrawn or still open when fitted: censored at their age."
    )
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ("authority", "level")
        indexes = [
            models.Index(
                fields=("authority", "organization", "level"), name="forecast_curve_lookup"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()}: {self.decided} decided, {self.censored} censored"
