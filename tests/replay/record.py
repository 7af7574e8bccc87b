"""Record a history of MissionWorkflow for each path of a mission's lifecycle.

Run it by hand for each released version of the workflow code:

    .venv/bin/python -m tests.replay.record --label 0.1.0

It starts the time-skipping test server, the Stripe sandbox and a fresh SQLite database,
drives one mission per path through the real worker and activities, and writes each
history, as `WorkflowHandle.fetch_history().to_json()` returns it, to
`tests/replay/histories/<label>/<path>.json`. `test_replay.py` replays every stored file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from missions import search_attributes
from missions.client import MissionsClient
from missions.contracts import (
    ActorInput,
    ApplicationRef,
    ApplyInput,
    CancelInput,
    ConfirmPaymentInput,
    DisputeInput,
    IncidentInput,
    IncidentKind,
    MissionState,
    PaymentEvent,
    PaymentEventKind,
    ResolveDisputeInput,
    ReviewInput,
)
from missions.db.engine import make_engine, make_session_factory
from missions.db.migrations import upgrade_database
from missions.errors import PaymentDeclined
from missions.payments import PaymentsGateway, build_stripe_client
from missions.settings import DEV_STRIPE_API_KEY, DEV_STRIPE_WEBHOOK_SECRET, Settings
from stripe_sandbox import SandboxConfig, create_app
from tests.conftest import TEST_SERVER, ThreadedServer, free_port
from tests.support import (
    OPS,
    client_actor,
    funded_mission,
    mission_request,
    onboard,
    post_and_apply,
    provider_actor,
    release,
    wait_for_state,
)
from workers.main import ACTIVITY_THREADS, build_worker

HISTORIES_DIR = Path(__file__).resolve().parent / "histories"
ROOT = HISTORIES_DIR.parents[2]


@dataclass(frozen=True)
class Stack:
    client: MissionsClient
    env: WorkflowEnvironment
    gateway: PaymentsGateway
    sessions: sessionmaker[Session]


async def review_both(
    stack: Stack, mission_id: str, customer_name: str, provider_name: str
) -> None:
    await stack.client.submit_review(
        mission_id, ReviewInput(actor=client_actor(customer_name), stars=5, comment="Parfait")
    )
    await stack.client.submit_review(
        mission_id, ReviewInput(actor=provider_actor(provider_name), stars=4, comment="Merci")
    )


async def happy_path_reviews(stack: Stack) -> str:
    customer, amelie, fabrice = (
        client_actor("rec-h"),
        provider_actor("rec-h-a"),
        provider_actor("rec-h-f"),
    )
    onboard(stack.gateway, stack.sessions, amelie)
    mission_id, (chosen, _) = await post_and_apply(
        stack.client, customer, [(amelie, 7500), (fabrice, 9000)]
    )
    await stack.client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=chosen)
    )
    await stack.client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    await stack.client.request_release(mission_id, ActorInput(actor=amelie))
    await release(stack.client, mission_id, customer)
    await review_both(stack, mission_id, "rec-h", "rec-h-a")
    return mission_id


async def auto_release(stack: Stack) -> str:
    customer, provider = client_actor("rec-auto"), provider_actor("rec-auto")
    onboard(stack.gateway, stack.sessions, provider)
    mission_id = await funded_mission(stack.client, customer, provider, 12050)
    await stack.client.request_release(mission_id, ActorInput(actor=provider))
    # The reminder a day before the window closes, then the release, then the review window.
    await stack.env.sleep(timedelta(days=6, hours=1))
    await stack.env.sleep(timedelta(days=1))
    await wait_for_state(stack.client, mission_id, MissionState.REVIEWING)
    await stack.env.sleep(timedelta(days=14, hours=1))
    return mission_id


async def expiry(stack: Stack) -> str:
    scheduled = await stack.env.get_current_time() + timedelta(days=20)
    snapshot = await stack.client.create_mission(
        client_actor("rec-exp"), mission_request(scheduled)
    )
    await stack.env.sleep(timedelta(days=14, minutes=1))
    return snapshot.mission_id


async def payment_lapse(stack: Stack) -> str:
    customer, provider = client_actor("rec-lapse"), provider_actor("rec-lapse")
    mission_id, (application_id,) = await post_and_apply(
        stack.client, customer, [(provider, 15000)]
    )
    await stack.client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    await stack.env.sleep(timedelta(hours=24, minutes=1))
    await wait_for_state(stack.client, mission_id, MissionState.OPEN)
    await stack.env.sleep(timedelta(days=14))
    return mission_id


async def decline_then_success(stack: Stack) -> str:
    customer, provider = client_actor("rec-decl"), provider_actor("rec-decl")
    onboard(stack.gateway, stack.sessions, provider)
    mission_id, (application_id,) = await post_and_apply(
        stack.client, customer, [(provider, 25000)]
    )
    await stack.client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    for card in ("pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds"):
        try:
            await stack.client.confirm_payment(
                mission_id, ConfirmPaymentInput(actor=customer, payment_method=card)
            )
        except PaymentDeclined:
            pass
        else:
            raise AssertionError(f"{card} was not declined")
    await stack.client.confirm_payment(
        mission_id, ConfirmPaymentInput(actor=customer, payment_method="pm_card_visa")
    )
    await release(stack.client, mission_id, customer)
    await review_both(stack, mission_id, "rec-decl", "rec-decl")
    return mission_id


async def webhook_payment(stack: Stack) -> str:
    customer, provider = client_actor("rec-hook"), provider_actor("rec-hook")
    mission_id, (application_id,) = await post_and_apply(stack.client, customer, [(provider, 8000)])
    selected = await stack.client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=application_id)
    )
    assert selected.payment is not None
    intent_id = selected.payment.payment_intent_id
    intent = stack.gateway._stripe.v1.payment_intents.confirm(
        intent_id, {"payment_method": "pm_card_visa"}
    )
    event = PaymentEvent(
        event_id=f"evt_record_{intent_id}",
        kind=PaymentEventKind.SUCCEEDED,
        payment_intent_id=intent_id,
        charge_id=str(intent.latest_charge),
        amount_minor=intent.amount,
    )
    # Stripe may deliver an event twice; the workflow handles it once.
    await stack.client.send_payment_event(mission_id, event)
    await stack.client.send_payment_event(mission_id, event)
    await wait_for_state(stack.client, mission_id, MissionState.FUNDED)
    await stack.client.cancel(mission_id, CancelInput(actor=customer))
    return mission_id


async def dispute_split(stack: Stack) -> str:
    customer, provider = client_actor("rec-disp"), provider_actor("rec-disp")
    onboard(stack.gateway, stack.sessions, provider)
    mission_id = await funded_mission(stack.client, customer, provider, 18000)
    await stack.client.report_incident(
        mission_id,
        IncidentInput(actor=customer, kind=IncidentKind.DAMAGE, text="Tache sur le parquet"),
    )
    await stack.client.request_release(mission_id, ActorInput(actor=provider))
    await stack.client.open_dispute(
        mission_id, DisputeInput(actor=customer, reason="Travail non terminé")
    )
    await stack.env.sleep(timedelta(days=8))
    await stack.client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=6900, release_minor=11000)
    )
    await review_both(stack, mission_id, "rec-disp", "rec-disp")
    return mission_id


async def dispute_full_refund(stack: Stack) -> str:
    customer, provider = client_actor("rec-refund"), provider_actor("rec-refund")
    onboard(stack.gateway, stack.sessions, provider)
    mission_id = await funded_mission(stack.client, customer, provider, 6000)
    await stack.client.open_dispute(mission_id, DisputeInput(actor=OPS, reason="Fraude"))
    await stack.client.resolve_dispute(
        mission_id, ResolveDisputeInput(actor=OPS, refund_minor=6300, release_minor=0)
    )
    return mission_id


async def early_cancellation(stack: Stack) -> str:
    customer, provider = client_actor("rec-cancel"), provider_actor("rec-cancel")
    scheduled = await stack.env.get_current_time() + timedelta(days=10)
    mission_id = await funded_mission(stack.client, customer, provider, 6000, scheduled)
    await stack.client.cancel(mission_id, CancelInput(actor=customer))
    return mission_id


async def late_cancellation(stack: Stack) -> str:
    customer, provider = client_actor("rec-late"), provider_actor("rec-late")
    onboard(stack.gateway, stack.sessions, provider)
    scheduled = await stack.env.get_current_time() + timedelta(hours=5)
    mission_id = await funded_mission(stack.client, customer, provider, 10000, scheduled)
    await stack.client.cancel(mission_id, CancelInput(actor=customer))
    return mission_id


async def provider_withdrawal(stack: Stack) -> str:
    customer, first, second = (
        client_actor("rec-wd"),
        provider_actor("rec-wd-1"),
        provider_actor("rec-wd-2"),
    )
    mission_id = await funded_mission(stack.client, customer, first, 9999)
    await stack.client.cancel(mission_id, CancelInput(actor=first))
    # The mission reopens; another provider applies and the client cancels before paying.
    applied = await stack.client.apply(
        mission_id, ApplyInput(actor=second, price_minor=11000, message="Disponible demain.")
    )
    await stack.client.select_application(
        mission_id, ApplicationRef(actor=customer, application_id=applied.application_id)
    )
    # The first cancellation drops the unpaid selection and reopens; the second cancels.
    await stack.client.cancel(mission_id, CancelInput(actor=customer))
    await stack.client.cancel(mission_id, CancelInput(actor=customer))
    return mission_id


async def payout_waits_for_account(stack: Stack) -> str:
    customer, provider = client_actor("rec-unpaid"), provider_actor("rec-unpaid")
    mission_id = await funded_mission(stack.client, customer, provider, 5000)
    await release(stack.client, mission_id, customer)
    await stack.env.sleep(timedelta(hours=1, minutes=1))
    onboard(stack.gateway, stack.sessions, provider)
    await stack.env.sleep(timedelta(hours=1, minutes=1))
    await wait_for_state(stack.client, mission_id, MissionState.REVIEWING)
    await stack.env.sleep(timedelta(days=14, minutes=1))
    return mission_id


PATHS: dict[str, Callable[[Stack], Awaitable[str]]] = {
    "happy_path_reviews": happy_path_reviews,
    "auto_release": auto_release,
    "expiry": expiry,
    "payment_lapse": payment_lapse,
    "decline_then_success": decline_then_success,
    "webhook_payment": webhook_payment,
    "dispute_split": dispute_split,
    "dispute_full_refund": dispute_full_refund,
    "early_cancellation": early_cancellation,
    "late_cancellation": late_cancellation,
    "provider_withdrawal": provider_withdrawal,
    "payout_waits_for_account": payout_waits_for_account,
}


async def record(label: str, names: list[str]) -> list[Path]:
    """Drive one mission per path name and write its history; return the files written."""
    out_dir = HISTORIES_DIR / label
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="missions-record-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'missions.sqlite3'}"
        upgrade_database(url)
        sandbox_config = SandboxConfig(
            api_key=DEV_STRIPE_API_KEY, webhook_secret=DEV_STRIPE_WEBHOOK_SECRET, webhook_url=None
        )
        with ThreadedServer(create_app(sandbox_config), free_port()) as sandbox:
            settings = Settings(
                database_url=url,
                stripe_api_base=sandbox.url,
                task_queue="missions-record",
                allow_duration_override=True,
            )
            engine = make_engine(url)
            sessions = make_session_factory(engine)
            gateway = PaymentsGateway(build_stripe_client(settings))
            env = await WorkflowEnvironment.start_time_skipping(
                data_converter=pydantic_data_converter,
                test_server_existing_path=str(TEST_SERVER),
            )
            async with env:
                await search_attributes.register(env.client, env.client.namespace)
                with ThreadPoolExecutor(max_workers=ACTIVITY_THREADS) as executor:
                    worker = build_worker(
                        env.client, settings.task_queue, gateway, sessions, executor
                    )
                    async with worker:
                        stack = Stack(MissionsClient(env.client, settings), env, gateway, sessions)
                        for name in names:
                            written.append(await record_path(stack, name, out_dir))
            engine.dispose()
    return written


async def record_path(stack: Stack, name: str, out_dir: Path) -> Path:
    mission_id = await PATHS[name](stack)
    handle = stack.client.temporal.get_workflow_handle(mission_id)
    # Every path ends the mission, so the history is complete; the wait is bounded all the same.
    await asyncio.wait_for(handle.result(), timeout=60)
    history = await handle.fetch_history()
    path = out_dir / f"{name}.json"
    path.write_text(history.to_json() + "\n")
    print(f"{path.relative_to(ROOT)}: {len(history.events)} events")  # noqa: T201
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Record a history of MissionWorkflow for each path of a mission's lifecycle."
    )
    parser.add_argument(
        "--label",
        default=version("missions"),
        help="Folder under tests/replay/histories, normally the release version "
        "(default: the installed package's version).",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=f"Paths to record (default: all): {', '.join(PATHS)}.",
    )
    arguments = parser.parse_args()

    # The paths make activities fail on purpose (declined cards, unpayable providers), and
    # the SDK logs each of those at WARNING; only errors are worth showing here.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    unknown = [name for name in arguments.paths if name not in PATHS]
    if unknown:
        parser.error(f"unknown path {', '.join(unknown)}; choose from {', '.join(PATHS)}")

    code = 0
    try:
        asyncio.run(record(arguments.label, arguments.paths or list(PATHS)))
    except Exception:
        traceback.print_exc()
        code = 1

    # temporalio 1.35 can crash the interpreter at exit, after the work is done, so the
    # process ends here with the real status.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
