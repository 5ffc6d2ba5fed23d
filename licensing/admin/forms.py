"""The intermediate forms of the workflow actions: what an officer enters before a change.

Each form receives the selected rows (`rows`), so it can ask per row where the rows differ
(the authority's reference on acceptance). Times are optional and default to now; dates
use the browser's date picker (YYYY-MM-DD).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings

from licensing.models import ClockStopKind

NOTE_MAX = 4000


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def occurred_at_field(label: str = "When it happened") -> forms.DateTimeField:
    """Read in the site's time zone (settings.TIME_ZONE), as every admin date and time is."""
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=DateTimeInput(),
        help_text=f"The date and time on the authority's notice ({settings.TIME_ZONE}). "
        "Blank: now. Never in the future.",
    )


class RowsForm(forms.Form):
    """A form about the rows an action was applied to."""

    required_css_class = "required"

    def __init__(self, *args: Any, rows: Sequence[Any] = (), **kwargs: Any) -> None:
        self.rows = list(rows)
        super().__init__(*args, **kwargs)


class TransitionForm(RowsForm):
    """A status change with its time and an optional note (what the authority said, and why)."""

    occurred_at = occurred_at_field()
    note = forms.CharField(
        required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )


class NoteRequiredTransitionForm(TransitionForm):
    note = forms.CharField(
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept on the status change; recorded as the decision note on a denial.",
    )


class AcceptForm(RowsForm):
    """Acceptance needs the authority's application number: one field per application."""

    occurred_at = occurred_at_field("Accepted at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for row in self.rows:
            self.fields[self.reference_field(row)] = forms.CharField(
                label=f"Authority's reference of {row}",
                max_length=100,
                required=not row.authority_reference,
                initial=row.authority_reference,
            )

    @staticmethod
    def reference_field(row: Any) -> str:
        return f"authority_reference_{row.pk}"

    def reference_for(self, row: Any) -> str:
        return self.cleaned_data.get(self.reference_field(row), "")


class ApproveForm(RowsForm):
    """The license as issued: its number and validity, and when it was decided."""

    license_number = forms.CharField(max_length=100)
    valid_from = forms.DateField(widget=DateInput(), help_text="First day of validity.")
    valid_until = forms.DateField(widget=DateInput(), help_text="Last day of validity.")
    decided_at = occurred_at_field("Decision time")
    note = forms.CharField(
        required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts, ends = data.get("valid_from"), data.get("valid_until")
        if starts and ends and ends < starts:
            self.add_error("valid_until", "The last day of validity cannot precede the first.")
        return data


class ClockStopForm(RowsForm):
    """A period that does not count towards the deadline (Art. 17), both dates inclusive."""

    kind = forms.ChoiceField(choices=ClockStopKind.choices)
    started_on = forms.DateField(widget=DateInput())
    ended_on = forms.DateField(
        widget=DateInput(), required=False, help_text="Blank: still going on (the clock waits)."
    )
    note = forms.CharField(
        required=False, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts, ends = data.get("started_on"), data.get("ended_on")
        if starts and ends and ends < starts:
            self.add_error("ended_on", "The end cannot precede the start.")
        return data


class AcknowledgeForm(RowsForm):
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What was done about it, e.g. who was told.",
    )


class VersionCheckedModelForm(forms.ModelForm):
    """A change form that remembers the `version` of the row it was loaded with.

    The service saving it receives that version as `expected_version`: if someone (the API,
    another officer) changed the row after the form was opened, the save is refused instead
    of silently overwriting their change.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["expected_version"].initial = self.instance.version
