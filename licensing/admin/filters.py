"""Changelist filters of the compliance workbench.

Each filter is one condition in the changelist's single query (EXISTS subqueries rather
than joins), so filtering never multiplies rows nor adds a query per row.
The `overdue=yes` parameter of the applications changelist is a stable link target
(the dashboard and the browser test link to it).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django_countries.filters import CountryFilter

from licensing.models import (
    ApplicationLine,
    DelayAlert,
    DelayLevel,
    MaterialFamily,
    ShipmentLine,
)


class ScopedCountryFilter(CountryFilter):
    """The countries present in the rows this user may see (not in every organization's)."""

    def lookup_choices(self, changelist):
        codes = set(
            changelist.root_queryset.order_by().values_list(self.field_path, flat=True).distinct()
        )
        for code, name in self.field.get_choices(include_blank=False):
            if code in codes:
                yield code, name


class YesNoFilter(admin.SimpleListFilter):
    """A yes/no filter; subclasses implement `filter_yes` and `filter_no`."""

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return self.filter_yes(queryset)
        if self.value() == "no":
            return self.filter_no(queryset)
        return queryset

    def filter_yes(self, queryset: QuerySet) -> QuerySet:
        raise NotImplementedError

    def filter_no(self, queryset: QuerySet) -> QuerySet:
        raise NotImplementedError


class OverdueFilter(YesNoFilter):
    """Applications past their statutory deadline without a decision (delay level overdue)."""

    title = "overdue"
    parameter_name = "overdue"

    def filter_yes(self, queryset):
        return queryset.filter(delay_level=DelayLevel.OVERDUE)

    def filter_no(self, queryset):
        return queryset.exclude(delay_level=DelayLevel.OVERDUE)


def _open_alerts(**outer) -> Exists:
    return Exists(DelayAlert.objects.filter(resolved_at__isnull=True, **outer))


class ApplicationOpenAlertsFilter(YesNoFilter):
    title = "has open alerts"
    parameter_name = "open_alerts"

    def filter_yes(self, queryset):
        return queryset.filter(_open_alerts(application=OuterRef("pk")))

    def filter_no(self, queryset):
        return queryset.exclude(_open_alerts(application=OuterRef("pk")))


class ShipmentOpenAlertsFilter(YesNoFilter):
    """Open alerts about the shipment itself, or raised on its application and listing it."""

    title = "has open alerts"
    parameter_name = "open_alerts"

    def _condition(self) -> Exists:
        return Exists(
            DelayAlert.shipments.through.objects.filter(
                shipment=OuterRef("pk"), delayalert__resolved_at__isnull=True
            )
        )

    def filter_yes(self, queryset):
        return queryset.filter(self._condition())

    def filter_no(self, queryset):
        return queryset.exclude(self._condition())


class MaterialFamilyFilter(admin.SimpleListFilter):
    """Rows with at least one line of an item of this material family."""

    title = "material family"
    parameter_name = "material_family"
    line_model = ApplicationLine
    line_parent = "application"

    def lookups(self, request, model_admin):
        return MaterialFamily.choices

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if not self.value():
            return queryset
        lines = self.line_model.objects.filter(
            **{self.line_parent: OuterRef("pk")}, item__material_family=self.value()
        )
        return queryset.filter(Exists(lines))


class ShipmentMaterialFamilyFilter(MaterialFamilyFilter):
    line_model = ShipmentLine
    line_parent = "shipment"


class AlertStateFilter(admin.SimpleListFilter):
    """Open (neither acknowledged nor resolved), acknowledged (not resolved), resolved."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (
            ("open", "open"),
            ("acknowledged", "acknowledged"),
            ("resolved", "resolved"),
            ("unresolved", "open or acknowledged"),
        )

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "open":
            return queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=True)
        if value == "acknowledged":
            return queryset.filter(resolved_at__isnull=True, acknowledged_at__isnull=False)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        if value == "unresolved":
            return queryset.filter(resolved_at__isnull=True)
        return queryset
