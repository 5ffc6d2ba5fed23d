"""Which organization a request acts for, and whether it may write.

An API key acts for its organization. A staff user on the browsable API acts for the one
organization they are a member of. Every queryset is filtered by this organization, so
another organization's ids answer 404.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from core.actors import Actor
from licensing.api.authentication import ApiKeyClient
from licensing.models import Organization


def request_organization(request: Request) -> Organization | None:
    if not hasattr(request, "_organization"):
        user = request.user
        organization = None
        if isinstance(user, ApiKeyClient):
            organization = user.organization
        elif user and user.is_authenticated and user.is_staff:
            memberships = list(user.organizations.all()[:2])
            organization = memberships[0] if len(memberships) == 1 else None
        request._organization = organization
    return request._organization


def request_actor(request: Request) -> Actor:
    user = request.user
    if isinstance(user, ApiKeyClient):
        return Actor(label=user.get_username())
    return Actor.for_user(user)


class ActsForOrganization(BasePermission):
    """Authenticated, acting for exactly one organization, and allowed to write if writing."""

    def has_permission(self, request: Request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request_organization(request) is None:
            self.message = (
                "Your user acts for no single organization: ask an administrator to add you to "
                "exactly one, or use an API key."
            )
            return False
        writing = request.method not in SAFE_METHODS
        if writing and isinstance(request.user, ApiKeyClient) and request.user.api_key.is_read_only:
            self.message = "This API key is read-only; writes need a read-write key."
            return False
        return True


class IsAuthenticatedClient(BasePermission):
    """For the shared catalogues: any valid key or staff user may read."""

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
