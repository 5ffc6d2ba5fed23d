"""Which organization a request acts for, and what it may do there.

An API key acts for its organization. A staff user on the browsable API acts for the one
organization they are a member of. Every queryset is filtered by this organization, so
another organization's ids answer 404.

What a caller may do: an API key what its read-only flag allows (ActsForOrganization); a
staff session exactly what its Django permissions allow in the admin (HasModelPermission),
so the API is never a way around a role.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
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


# The permission ("view", "add", "change" or "delete" of the view's model) each standard
# action needs, as the admin asks for it on the same model.
_STANDARD_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "metadata": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
}
# The same for a plain APIView, by method.
_METHODS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def required_permissions(request: Request, view) -> tuple[str, ...]:
    """The Django permissions ("app_label.codename") a staff user needs for this request.

    A view declares exceptions in `action_permissions` (action name -> permissions, all
    needed). Otherwise reads need `view` of the view's model (`permission_model`, or its
    queryset's), creates `add`, updates `change`, deletes `delete`; any other write action
    (a transition, an acknowledgement) needs `change`, as every admin action does.
    """
    action = getattr(view, "action", None)
    declared = getattr(view, "action_permissions", {}).get(action)
    if declared is not None:
        return tuple(declared)
    model = getattr(view, "permission_model", None) or getattr(
        getattr(view, "queryset", None), "model", None
    )
    if model is None:
        raise ImproperlyConfigured(
            f"{type(view).__name__} needs a queryset or a permission_model: HasModelPermission "
            "checks a staff user's permissions on it."
        )
    if action in _STANDARD_ACTIONS:
        verb = _STANDARD_ACTIONS[action]
    elif request.method in SAFE_METHODS:
        verb = "view"
    elif _is_viewset(view):
        verb = "change"
    else:
        verb = _METHODS.get(request.method, "change")
    return (f"{model._meta.app_label}.{verb}_{model._meta.model_name}",)


def _describe(permission: str) -> str:
    """What a permission allows, in words: "delete exporters" for licensing.delete_exporter."""
    app_label, _, codename = permission.partition(".")
    verb, _, model_name = codename.partition("_")
    try:
        model = apps.get_model(app_label, model_name)
    except LookupError:
        return permission
    return f"{verb} {model._meta.verbose_name_plural}"


def _is_viewset(view) -> bool:
    # Not isinstance(view, ViewSetMixin): DRF's settings import this module while its views
    # module is still loading. A viewset's instances carry their method -> action map.
    return hasattr(view, "action_map")


def _has_handler(request: Request, view) -> bool:
    """Whether the view answers this method at all; if not, the 405 that follows is the answer."""
    if _is_viewset(view):
        return getattr(view, "action", None) is not None
    return hasattr(view, request.method.lower())


class HasModelPermission(BasePermission):
    """A staff session may do through the API exactly what its permissions allow in the admin.

    Model by model and action by action (see `required_permissions`): an Auditor only reads,
    a Compliance officer deletes nothing, and a staff user without a role reads nothing either.
    Superusers hold every permission. API keys are not users: their read-only flag decides
    (ActsForOrganization).
    """

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if isinstance(user, ApiKeyClient) or not _has_handler(request, view):
            return True
        missing = [each for each in required_permissions(request, view) if not user.has_perm(each)]
        if not missing:
            return True
        lacking = " and to ".join(f"{_describe(each)} ({each})" for each in missing)
        self.message = (
            f"This needs the permission to {lacking}, which your user lacks. Through the API "
            "a staff user may do what their permissions allow in the admin; ask an "
            "administrator for a role that has it."
        )
        return False


class IsAuthenticatedClient(BasePermission):
    """For the shared catalogues: any valid key or staff user may read (a staff user who may
    view them: HasModelPermission)."""

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user and request.user.is_authenticated)
