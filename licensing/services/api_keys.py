"""API key writes."""

from django.db import transaction

from licensing.models import Organization, OrganizationAPIKey


@transaction.atomic
def api_key_create(
    *, organization_name: str, name: str = "default", read_only: bool = False
) -> tuple[OrganizationAPIKey, str]:
    """Create a key (and the organization if it is new). Returns the row and the key, shown once."""
    organization, _ = Organization.objects.get_or_create(name=organization_name)
    return OrganizationAPIKey.objects.create_key(
        organization=organization, name=name, is_read_only=read_only
    )
