"""Reference data: licensing authorities, control announcements and controlled items.

Installed by a data migration and editable in the admin; facts marked unverified in
shared/DOMAIN.md are data here, never constants in code.
"""

import datetime as dt

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class PeriodUnit(models.TextChoices):
    WORKING_DAYS = "working_days", "working days"
    CALENDAR_DAYS = "calendar_days", "calendar days"


class ClockStartEvent(models.TextChoices):
    SUBMITTED = "submitted", "submission"
    ACCEPTED = "accepted", "acceptance"


class MaterialFamily(models.TextChoices):
    RARE_EARTH = "rare_earth", "rare earths"
    RARE_EARTH_MAGNET = "rare_earth_magnet", "rare-earth magnets"
    RARE_EARTH_TECHNOLOGY = "rare_earth_technology", "rare-earth equipment and technology"
    GALLIUM = "gallium", "gallium"
    GERMANIUM = "germanium", "germanium"
    GRAPHITE = "graphite", "graphite"
    ANTIMONY = "antimony", "antimony"
    SUPERHARD = "superhard", "superhard materials"
    TUNGSTEN = "tungsten", "tungsten"
    TELLURIUM = "tellurium", "tellurium"
    BISMUTH = "bismuth", "bismuth"
    MOLYBDENUM = "molybdenum", "molybdenum"
    INDIUM = "indium", "indium"
    LITHIUM_BATTERY = "lithium_battery", "lithium-battery and graphite-anode items"
    OTHER = "other", "other"

    @classmethod
    def label_of(cls, value: str) -> str:
        """The family's label, or the value itself when it is not (or no longer) a family."""
        return str(cls(value).label) if value in cls.values else value


class LicensingAuthority(TimeStampedModel):
    """An authority that decides license applications, with the rules of its clock.

    The review period runs from `clock_start_event` in `review_period_unit`, on the working
    calendar of `calendar_country` (see core.calendars).
    """

    code = models.CharField(max_length=20, unique=True, help_text="e.g. CN-MOFCOM, US-BIS")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    review_period = models.PositiveSmallIntegerField(help_text="e.g. 45 for CN-MOFCOM")
    review_period_unit = models.CharField(max_length=16, choices=PeriodUnit.choices)
    clock_start_event = models.CharField(max_length=12, choices=ClockStartEvent.choices)
    calendar_country = models.CharField(
        max_length=2, help_text="Country whose official working-day calendar the clock follows."
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        help_text="IANA zone of the authority's notices, e.g. Asia/Shanghai: dates are read in it.",
    )
    amendment_review_period = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Review period for amendments of non-key elements."
    )
    legal_basis = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ("code",)
        verbose_name_plural = "licensing authorities"

    def __str__(self) -> str:
        return self.code


class ControlAnnouncement(TimeStampedModel):
    """A published measure that puts items under control, e.g. MOFCOM/GAC No. 18 [2025]."""

    authority = models.ForeignKey(
        LicensingAuthority, on_delete=models.PROTECT, related_name="announcements"
    )
    number = models.CharField(max_length=60, help_text="e.g. No. 18 [2025]")
    title = models.CharField(max_length=300)
    published_on = models.DateField(null=True, blank=True)
    effective_on = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ("authority__code", "effective_on", "number")
        constraints = [
            models.UniqueConstraint(
                fields=("authority", "number"), name="announcement_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"{self.authority.code} {self.number}"


class ControlledItem(TimeStampedModel):
    """An item that needs an export license, addressed by its control code (e.g. 1C905)."""

    control_code = models.CharField(max_length=30, unique=True)
    name = models.CharField(max_length=200)
    hs_codes = models.JSONField(default=list, blank=True, help_text="List of HS code strings.")
    material_family = models.CharField(max_length=32, choices=MaterialFamily.choices)
    authority = models.ForeignKey(
        LicensingAuthority, on_delete=models.PROTECT, related_name="items"
    )
    announcement = models.ForeignKey(
        ControlAnnouncement, on_delete=models.PROTECT, related_name="items", null=True, blank=True
    )
    code_verified = models.BooleanField(
        default=True,
        help_text="Unchecked where the control code is not yet verified at the source.",
    )

    class Meta:
        ordering = ("control_code",)

    def __str__(self) -> str:
        return f"{self.control_code} {self.name}"

    def is_controlled_on(self, day: dt.date) -> bool:
        """Whether any control period is in force (started, not suspended, not ended) on `day`."""
        return any(period.in_force_on(day) for period in self.control_periods.all())


class ControlPeriod(TimeStampedModel):
    """A span during which an item is controlled: a start, an optional suspension, an optional end."""

    item = models.ForeignKey(
        ControlledItem, on_delete=models.CASCADE, related_name="control_periods"
    )
    announcement = models.ForeignKey(
        ControlAnnouncement,
        on_delete=models.PROTECT,
        related_name="control_periods",
        null=True,
        blank=True,
    )
    starts_on = models.DateField()
    suspended_from = models.DateField(null=True, blank=True)
    suspended_until = models.DateField(
        null=True,
        blank=True,
        help_text="Last day of the suspension; blank with a start means open-ended.",
    )
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ("item", "starts_on")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="control_period_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(suspended_until__isnull=True) | Q(suspended_from__isnull=False),
                name="control_period_suspension_has_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.control_code} from {self.starts_on}"

    def in_force_on(self, day: dt.date) -> bool:
        if day < self.starts_on or (self.ends_on and day > self.ends_on):
            return False
        if self.suspended_from and day >= self.suspended_from:
            return bool(self.suspended_until) and day > self.suspended_until
        return True
