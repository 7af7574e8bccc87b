"""The double-entry ledger: one row per movement of a mission's money."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from missions.activity_models import LedgerAccount, LedgerEntry
from missions.db.models import LedgerEntryRow, MissionRow
from missions.db.repositories._dialect import conflict_insert


def record_ledger_entries(
    session: Session,
    mission_id: str,
    entries: Sequence[LedgerEntry],
    *,
    now: datetime | None = None,
) -> int:
    """Insert the entries whose key is new for the mission and return how many were new."""
    if not entries:
        return 0
    created_at = now or datetime.now(UTC)
    rows = [
        {
            "mission_id": mission_id,
            "key": entry.key,
            "kind": entry.kind,
            "debit_account": entry.debit.value,
            "credit_account": entry.credit.value,
            "amount_minor": entry.amount_minor,
            "currency": entry.currency,
            "stripe_object_id": entry.stripe_object_id,
            "created_at": created_at,
        }
        for entry in entries
    ]
    statement = (
        conflict_insert(session, LedgerEntryRow)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[LedgerEntryRow.mission_id, LedgerEntryRow.key])
        .returning(LedgerEntryRow.id)
    )
    return len(session.execute(statement).all())


def list_ledger_entries(session: Session, mission_id: str) -> list[LedgerEntryRow]:
    return list(
        session.scalars(
            select(LedgerEntryRow)
            .where(LedgerEntryRow.mission_id == mission_id)
            .order_by(LedgerEntryRow.id)
        )
    )


def account_balances(rows: Sequence[LedgerEntryRow]) -> dict[LedgerAccount, int]:
    """Return each account's balance: what it received minus what left it."""
    balances: dict[LedgerAccount, int] = defaultdict(int)
    for row in rows:
        balances[LedgerAccount(row.debit_account)] += row.amount_minor
        balances[LedgerAccount(row.credit_account)] -= row.amount_minor
    return {account: balances.get(account, 0) for account in LedgerAccount}


def ledger_mission_ids(session: Session) -> list[str]:
    """Return every mission that has at least one ledger entry."""
    return list(session.scalars(select(LedgerEntryRow.mission_id).distinct()))


def record_chargeback_after_end(
    session: Session,
    mission_id: str,
    dispute_id: str,
    amount_minor: int,
    *,
    now: datetime | None = None,
) -> bool:
    """Book a chargeback on a mission whose workflow has ended, and flag it for ops.

    The platform bears the loss, so its revenue for the mission drops by the amount.
    Returns False when the mission is unknown or the chargeback was booked already.
    """
    mission = session.get(MissionRow, mission_id, with_for_update=True)
    if mission is None:
        return False
    entry = LedgerEntry(
        key=f"chargeback:{dispute_id}",
        kind="chargeback_loss",
        debit=LedgerAccount.CLIENT_CARD,
        credit=LedgerAccount.PLATFORM_REVENUE,
        amount_minor=amount_minor,
        currency=mission.currency,
        stripe_object_id=dispute_id,
    )
    if record_ledger_entries(session, mission_id, [entry], now=now) == 0:
        return False
    mission.needs_attention = True
    mission.platform_revenue_minor -= amount_minor
    snapshot = dict(mission.snapshot or {})
    money = dict(snapshot.get("money") or {})
    money["charged_back_minor"] = int(money.get("charged_back_minor", 0)) + amount_minor
    money["platform_revenue_minor"] = mission.platform_revenue_minor
    snapshot["money"] = money
    snapshot["needs_attention"] = True
    mission.snapshot = snapshot
    return True
