"""A live server holding the access matrix's world (two provinces, a published release and a
draft, hospitals with keys and webhook endpoints, transfers, policies, a reconciliation run),
with real credentials for every kind of caller: what a hospital's generated client and
schemathesis are pointed at."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.core.services import token_issue
from apps.hospitals import services as hospitals
from apps.hospitals.models import Hospital
from tests.security import world as w


@dataclass
class LiveWorld:
    url: str
    world: w.World
    hospital_key: str  # hospital A's key
    tokens: dict[str, str]  # caller name -> staff token (plus "root", a superuser)


@pytest.fixture
def live_world(live_server: Any, transactional_db: Any) -> LiveWorld:
    world = w.build_world()
    hospital = Hospital.objects.get(code=w.PLANT[w.A]["hospital"][0])
    _, key = hospitals.api_key_issue(hospital=hospital, name="generated client")
    tokens = {name: token_issue(user=user) for name, user in world.users.items()}
    root = get_user_model().objects.create_superuser("schema-root", "root@example.invalid", "x" * 16)
    tokens["root"] = token_issue(user=root)
    return LiveWorld(url=live_server.url, world=world, hospital_key=key, tokens=tokens)
