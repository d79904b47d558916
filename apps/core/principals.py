"""Who is calling the API when it is a hospital rather than a staff user.

The hospitals app authenticates ``Authorization: Api-Key …`` and sets ``request.user`` to a
``HospitalPrincipal``; lower apps (catalog, benefits) only check ``is_hospital`` and never
import the hospitals app.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HospitalPrincipal:
    hospital_id: int
    institution_code: str
    province_code: str
    key_prefix: str = ""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_hospital = True
    is_staff = False
    is_superuser = False
    pk = None

    def __str__(self) -> str:
        return f"hospital {self.institution_code}"


def is_hospital(user: object) -> bool:
    return bool(getattr(user, "is_hospital", False))
