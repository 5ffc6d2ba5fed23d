"""API key writes."""

from django.db import transaction

from core.actors import Actor
from core.audit import Action, audit_record, created_changes
from licensing.models import Organization, OrganizationAPIKey

# The usual caller is the `create_api_key` management command.
COMMAND_ACTOR = Actor.system("create_api_key")


@transaction.atomic
def api_key_create(
    *,
    organization_name: str,
    name: str = "default",
    read_only: bool = False,
    actor: Actor = COMMAND_ACTOR,
) -> tuple[OrganizationAPIKey, str]:
    """Create a key (and the organization if it is new). Returns the row and the key, shown once."""
    organization, created = Organization.objects.get_or_create(name=organization_name)
    if created:
        audit_record(
            actor=actor,
            instance=organization,
            action=Action.CREATE,
            changes=created_changes(organization),
        )
    api_key, key = OrganizationAPIKey.objects.create_key(
        organization=organization, name=name, is_read_only=read_only
    )
    audit_record(
        actor=actor, instance=api_key, action=Action.CREATE, changes=created_changes(api_key)
    )
    return api_key, key
