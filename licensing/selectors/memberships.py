"""Which organizations a user acts for: the one definition of tenant scoping.

An active superuser acts for every organization. Any other user acts for the organizations
that have them among their `members` (an inactive superuser is no exception). The admin's
changelists, forms, imports and exports, the delays dashboard and the audit trail all scope
their rows with the functions below.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from licensing.models import Organization


def sees_every_organization(user) -> bool:
    return bool(user.is_active and user.is_superuser)


def member_organizations(user) -> QuerySet[Organization]:
    """The organizations `user` is a member of (a subquery, evaluated by the database)."""
    return Organization.objects.filter(members=user)


def member_organization_ids(user) -> list | None:
    """The ids of the organizations `user` acts for; None means every organization."""
    if sees_every_organization(user):
        return None
    return list(member_organizations(user).values_list("pk", flat=True))


def scope_to_member_organizations(
    queryset: QuerySet, user, field: str = "organization", *, include_shared: bool = False
) -> QuerySet:
    """`queryset` narrowed to the rows whose `field` (a lookup path to an organization) is one
    of the user's organizations; unchanged for users who see every organization.

    `include_shared` also keeps rows without an organization (e.g. default threshold rules).
    """
    if sees_every_organization(user):
        return queryset
    condition = Q(**{f"{field}__in": member_organizations(user).values("pk")})
    if include_shared:
        condition |= Q(**{f"{field}__isnull": True})
    return queryset.filter(condition)
