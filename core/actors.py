"""Who performed a change: a staff user, an API key, or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    """The author of a change, recorded on status changes and audit rows.

    `user` is set for staff acting in the admin or browsable API; `label` always says who
    acted in words ("user:alice", "api-key:erp-prod", "system:scan").
    """

    label: str
    user: Any = None

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(label=f"user:{user.get_username()}", user=user)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(label=f"system:{name}")
