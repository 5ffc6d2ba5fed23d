from django.core.exceptions import ValidationError
from django.db import models
from django_countries.fields import CountryField

from core.identifiers import IdentifierKeyField, identifier_key, mixed_script_problem
from core.models import TimeStampedModel
from core.uscc import uscc_problem
from licensing.models.organizations import Organization


class Exporter(TimeStampedModel):
    """A company abroad that applies for the license and ships the goods.

    Unique by (country, registration number) within an organization: each tenant keeps
    its own supplier records, so one tenant's records never collide with another's.
    For CN the registration number is the Unified Social Credit Code, check character included.
    Uniqueness compares `registration_key`, the number as a reader sees it (core.identifiers):
    the number itself keeps the user's spelling.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="exporters"
    )
    name = models.CharField("legal name", max_length=300)
    country = CountryField()
    registration_number = models.CharField(max_length=40)
    # NFKC can lengthen a string (one ligature becomes several letters), hence the room.
    registration_key = IdentifierKeyField(max_length=120, source="registration_number")
    address = models.TextField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=40, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=("organization", "country", "registration_key"),
                name="exporter_unique_registration_key",
                violation_error_message="An exporter with this country and registration number exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.registration_number = self.registration_number.strip()
        problem = mixed_script_problem(self.registration_number)
        if problem:
            raise ValidationError({"registration_number": problem})
        if str(self.country) == "CN":
            self.registration_number = self.registration_number.upper()
            problem = uscc_problem(self.registration_number)
            if problem:
                raise ValidationError({"registration_number": problem})
        # Saving computes it too; here it is for the unique check that follows clean().
        self.registration_key = identifier_key(self.registration_number)
        if len(self.registration_key) > self._meta.get_field("registration_key").max_length:
            raise ValidationError(
                {"registration_number": "Too long once its compatibility characters are spelt out."}
            )
