"""`missions ops`: the ops commands, applying the same rules as the API."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, NoReturn

import typer

from missions.client import MissionsClient, connect_temporal
from missions.contracts import (
    Actor,
    ActorInput,
    DeadlineKind,
    MissionSnapshot,
    MoveDeadlineInput,
    ResolveDisputeInput,
    Role,
)
from missions.errors import MissionError
from missions.ops.attention import find_attention
from missions.ops.timeline import build_timeline, euros, format_timeline
from missions.settings import get_settings

ops_app = typer.Typer(help="Find missions that need a person, read their history, act on them.")

OpsUser = Annotated[
    str | None,
    typer.Option("--as", help="Ops user id recorded as the actor (default: the login name)."),
]


def _ops_actor(user: str | None) -> Actor:
    return Actor(user_id=user or f"ops-{getpass.getuser()}", role=Role.OPS)


def _print_mission(snapshot: MissionSnapshot) -> None:
    money = snapshot.money
    typer.echo(
        f"{snapshot.mission_id}  {snapshot.state.value}  captured {euros(money.captured_minor)}"
        f"  refunded {euros(money.refunded_minor)}  payout {euros(money.provider_payout_minor)}"
        f"  platform {euros(money.platform_revenue_minor)}"
        + ("  payout waiting" if snapshot.payout_pending else "")
    )


def _run(command: Coroutine[Any, Any, None]) -> NoReturn:
    """Run one async ops command and end the process; a rejected command exits with 1."""
    # Imported here because missions.cli imports this module to register the commands.
    from missions.cli import _exit_without_finalizing

    code = 0
    try:
        asyncio.run(command)
    except MissionError as error:
        typer.echo(f"error: {error.code}: {error.message}", err=True)
        code = 1
    except typer.Exit as stop:
        code = stop.exit_code
    _exit_without_finalizing(code)


@ops_app.command()
def attention(
    limit: Annotated[int, typer.Option(help="Most running missions to examine.")] = 1000,
    deep: Annotated[
        bool,
        typer.Option(help="Also describe each running mission to find failing activities."),
    ] = True,
) -> None:
    """List the running missions that need ops, with the reasons for each."""

    async def list_them() -> None:
        client = await connect_temporal(get_settings())
        items = await find_attention(client, limit=limit, deep=deep)
        for item in items:
            typer.echo(f"{item.mission_id}  {item.state}  {'; '.join(item.reasons)}")
        typer.echo(f"{len(items)} mission(s) need attention")

    _run(list_them())


@ops_app.command()
def timeline(mission_id: str) -> None:
    """Show a mission's history as domain events, in order, with amounts."""

    async def show() -> None:
        client = await connect_temporal(get_settings())
        history = await client.get_workflow_handle(mission_id).fetch_history()
        for line in format_timeline(build_timeline(history.events)):
            typer.echo(line)

    _run(show())


@ops_app.command()
def resolve(
    mission_id: str,
    refund: Annotated[int, typer.Option(help="Amount refunded to the client, in cents.")],
    release: Annotated[int, typer.Option(help="Amount paid to the provider, in cents.")],
    note: Annotated[str, typer.Option(help="Why, kept with the resolution.")] = "",
    user: OpsUser = None,
) -> None:
    """Resolve a dispute: refund part to the client, release the rest to the provider."""

    async def send() -> None:
        missions = await MissionsClient.connect(get_settings())
        data = ResolveDisputeInput(
            actor=_ops_actor(user), refund_minor=refund, release_minor=release, note=note
        )
        _print_mission(await missions.resolve_dispute(mission_id, data))

    _run(send())


@ops_app.command("move-deadline")
def move_deadline(
    mission_id: str,
    deadline: Annotated[DeadlineKind, typer.Option(help="The running deadline to move.")],
    to: Annotated[
        datetime | None, typer.Option(help="New time, ISO 8601; UTC when no offset is given.")
    ] = None,
    by_hours: Annotated[
        float | None, typer.Option(help="Hours to add to the current deadline (negative: earlier).")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, written to the workflow log.")] = "",
    user: OpsUser = None,
) -> None:
    """Extend or shorten a mission's selection, payment, confirmation or review deadline."""
    if (to is None) == (by_hours is None):
        typer.echo("error: give exactly one of --to or --by-hours", err=True)
        raise typer.Exit(2)

    async def send() -> None:
        missions = await MissionsClient.connect(get_settings())
        at = to.replace(tzinfo=to.tzinfo or UTC) if to is not None else None
        if at is None:
            current = getattr((await missions.snapshot(mission_id)).deadlines, deadline.value)
            if current is None:
                typer.echo(f"error: the {deadline.value} deadline is not running", err=True)
                raise typer.Exit(1)
            at = current + timedelta(hours=by_hours or 0)
        data = MoveDeadlineInput(actor=_ops_actor(user), deadline=deadline, at=at, reason=reason)
        snapshot = await missions.move_deadline(mission_id, data)
        moved = getattr(snapshot.deadlines, deadline.value)
        typer.echo(f"{mission_id}: {deadline.value} deadline is now {moved.isoformat()}")

    _run(send())


@ops_app.command("retry-payout")
def retry_payout(mission_id: str, user: OpsUser = None) -> None:
    """Try a waiting payout again now, for instance once the provider finished onboarding."""

    async def send() -> None:
        missions = await MissionsClient.connect(get_settings())
        _print_mission(await missions.retry_payout(mission_id, ActorInput(actor=_ops_actor(user))))

    _run(send())
