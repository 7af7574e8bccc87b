from __future__ import annotations

import asyncio
import logging

import httpx
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from missions.client import MissionsClient
from missions.contracts import Actor, Role
from missions.settings import Settings
from tests.api.helpers import BearerFactory

log = logging.getLogger("smoke")


async def test_smoke(dev_temporal: WorkflowEnvironment, settings: Settings, monkeypatch) -> None:
    import missions.db.repositories.outbox as outbox
    real_render = outbox.render
    def lenient(template, locale, params):
        return real_render(template, locale, {"currency": "EUR", **params})
    monkeypatch.setattr(outbox, "render", lenient)
    import stripe
    real_create = stripe.PaymentIntentService.create
    def create(self, params=None, options=None):
        params = {k: v for k, v in (params or {}).items() if k != "payment_method_types"}
        return real_create(self, params, options)
    monkeypatch.setattr(stripe.PaymentIntentService, "create", create)
    from concurrent.futures import ThreadPoolExecutor
    from workers.main import build_worker
    from missions import search_attributes
    from missions.db.engine import make_engine, make_session_factory
    from missions.payments import PaymentsGateway, build_stripe_client

    s = settings.model_copy(
        update={
            "temporal_address": dev_temporal.client.service_client.config.target_host,
            "temporal_namespace": dev_temporal.client.namespace,
        }
    )
    await search_attributes.register(dev_temporal.client, dev_temporal.client.namespace)
    sessions = make_session_factory(make_engine(s.effective_database_url))
    ex = ThreadPoolExecutor(max_workers=16)
    worker = build_worker(
        dev_temporal.client, s.task_queue, PaymentsGateway(build_stripe_client(s)), sessions, ex
    )
    async with worker:
        await _run(s)


async def _run(s: Settings) -> None:
    app = create_app(s)
    bearer = BearerFactory(s)
    client = bearer("client-A", Role.CLIENT)
    prov = bearer("prov-A", Role.PROVIDER)
    prov2 = bearer("prov-B", Role.PROVIDER)
    ops = bearer("ops-1", Role.OPS)
    svc = bearer("svc", Role.SERVICE)
    svc_as_client = bearer("svc", Role.SERVICE, act_as=Actor(user_id="client-A", role=Role.CLIENT))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60
        ) as http:
            r = await http.put(
                "/providers/prov-A",
                json={"display_name": "Prov A", "presentation": "Hi", "email": "a@example.fr"},
                headers=prov,
            )
            print("PUT provider", r.status_code, r.json())
            r = await http.put(
                "/providers/prov-A",
                json={"display_name": "Prov A2", "presentation": "Hi"},
                headers=prov,
            )
            print("PUT provider again", r.status_code, r.json())
            r = await http.put(
                "/providers/prov-B",
                json={"display_name": "Prov B", "presentation": "Yo"},
                headers=svc,
            )
            print("PUT provider by service", r.status_code)
            r = await http.get("/providers/prov-A", headers=client)
            print("GET provider", r.status_code, r.json())
            body = {
                "title": "Monter une armoire",
                "description": "d",
                "category": "assembly",
                "city": "Lyon",
                "postcode": "69003",
                "durations": {
                    "selection_deadline": 600,
                    "payment_deadline": 600,
                    "payment_poll_interval": 2,
                },
            }
            r = await http.post("/missions", json=body, headers=client)
            print("POST mission", r.status_code, r.json()["state"])
            mid = r.json()["mission_id"]
            r = await http.post(
                f"/missions/{mid}/applications",
                json={"price_minor": 10000, "message": "moi"},
                headers=prov,
            )
            print("apply", r.status_code, r.json()["application_id"])
            app_id = r.json()["application_id"]
            r = await http.post(
                f"/missions/{mid}/applications",
                json={"price_minor": 9000, "message": "moi aussi"},
                headers=prov2,
            )
            print("apply B", r.status_code, len(r.json()["mission"]["applications"]))
            r = await http.get(f"/missions/{mid}", headers=client)
            print("client sees apps", len(r.json()["applications"]))
            r = await http.post(f"/missions/{mid}/messages", json={"text": "Quand ?"}, headers=prov)
            print("message", r.status_code, r.json())
            await asyncio.sleep(1)
            r = await http.post(
                f"/missions/{mid}/messages", json={"text": "Demain"}, headers=client
            )
            print("message 2", r.status_code, r.json())
            r = await http.get(f"/missions/{mid}/messages", headers=client)
            print("messages", r.status_code, len(r.json()))
            r = await http.post(
                f"/missions/{mid}/selection", json={"application_id": app_id}, headers=prov
            )
            print("select by provider", r.status_code, r.json()["code"])
            r = await http.post(
                f"/missions/{mid}/selection", json={"application_id": app_id}, headers=client
            )
            print("select", r.status_code, r.json()["state"], r.json()["payment"])
            r = await http.get(f"/missions/{mid}", headers=prov)
            print("provider view payment", r.json()["payment"], len(r.json()["applications"]))
            r = await http.get(f"/missions/{mid}", headers=svc_as_client)
            print(
                "service-as-client view payment secret", bool(r.json()["payment"]["client_secret"])
            )
            r = await http.get(f"/missions/{mid}", headers=ops)
            print("ops view payment secret", r.json()["payment"]["client_secret"])
            r = await http.post(
                f"/missions/{mid}/payment/confirmation",
                json={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
                headers=client,
            )
            print("declined", r.status_code, r.json())
            r = await http.post(
                f"/missions/{mid}/payment/confirmation",
                json={"payment_method": "pm_card_visa"},
                headers=client,
            )
            print("paid", r.status_code, r.json()["state"])
            r = await http.post(f"/missions/{mid}/cancellation", headers=svc)
            print("cancel by bare service", r.status_code, r.json().get("code"))
            for who, h in [
                ("client", client),
                ("provA", prov),
                ("provB", prov2),
                ("ops", ops),
                ("svc", svc),
            ]:
                r = await http.get("/missions", headers=h)
                print(
                    "list",
                    who,
                    r.status_code,
                    [(i["mission_id"][:14], i["state"]) for i in r.json()["items"]],
                )
            r = await http.get("/missions?state=open", headers=prov2)
            print("list open provB", r.status_code, len(r.json()["items"]))
            for who, h in [("client", client), ("provA", prov), ("ops", ops)]:
                r = await http.get(f"/missions/{mid}/notifications", headers=h)
                print(
                    "notifs",
                    who,
                    r.status_code,
                    [(n["recipient_id"], n["template"]) for n in r.json()]
                    if r.status_code == 200
                    else r.json(),
                )
            r = await http.get(f"/missions/{mid}/notifications", headers=prov2)
            print("notifs provB", r.status_code, r.json())
            r = await http.post(
                f"/missions/{mid}/incidents", json={"kind": "delay", "text": "retard"}, headers=prov
            )
            print("incident", r.status_code, r.json().get("state"))
            r = await http.post(f"/missions/{mid}/completion-request", headers=prov)
            print("completion", r.status_code, r.json().get("state"))
            r = await http.post(
                f"/missions/{mid}/dispute", json={"reason": "pas fini"}, headers=client
            )
            print("dispute", r.status_code, r.json().get("state"))
            r = await http.post(
                f"/missions/{mid}/dispute/resolution",
                json={"refund_minor": 5000, "release_minor": 5000},
                headers=ops,
            )
            print("resolution", r.status_code, r.json().get("state"), r.json().get("money"))
            r = await http.post(
                f"/missions/{mid}/reviews", json={"stars": 4, "comment": "ok"}, headers=client
            )
            print("review", r.status_code, r.json().get("state") or r.json())
            r = await http.get("/readyz")
            print("readyz", r.status_code, r.json())
    assert False, "show output"
