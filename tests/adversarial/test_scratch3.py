from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, UTC

import httpx
import pytest

from missions.contracts import Role
from missions.tokens import mint_token
from tests.e2e.conftest import LiveStack, live_stack, stack_settings  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")

def bearer(stack, user_id, role):
    return {"Authorization": f"Bearer {mint_token(stack.settings, user_id, role)}"}

BODY = {"title": "Changer un joint", "description": "Robinet.", "category": "plomberie", "city": "Lille", "postcode": "59000"}

async def test_probe(live_stack):
    ch = bearer(live_stack, "client-probe", Role.CLIENT)
    ph = bearer(live_stack, "prov-probe", Role.PROVIDER)
    async with httpx.AsyncClient(base_url=live_stack.api_url, timeout=30) as http:
        for extra in ({"title": "Joint\x00robinet"}, {"description": "a\x1b[31mred"}, {"scheduled_at": "2001-01-01T10:00:00Z"}, {"scheduled_at": "2099-01-01T10:00:00"}, {"postcode": "٠١٢٣٤"}):
            r = await http.post("/missions", json={**BODY, **extra}, headers=ch)
            print(extra, r.status_code, r.text[:200])
        r = await http.post("/missions", json=BODY, headers=ch)
        mid = r.json()["mission_id"]
        for price in (7500.0, "7500", True, 7500.5, 10**30, -1, 0):
            r = await http.post(f"/missions/{mid}/applications", json={"price_minor": price, "message": "ok"}, headers=bearer(live_stack, f"prov-p{price}", Role.PROVIDER))
            print("price", repr(price), r.status_code, r.text[:150])
        for bad in ("mission-%00", "mission-%0a", "mission-" + "x" * 120, "mission-%E2%80%AE", "../../x", "mission-a%2Fb", "mission-%20", "mission-" + "é" * 100):
            r = await http.get(f"/missions/{bad}", headers=ch)
            print("id", bad[:30], r.status_code, r.text[:200])
