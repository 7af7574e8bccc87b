"""The double-entry ledger: one row per movement of a mission's money."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from missions.activity_models import LedgerAccount, LedgerEntry
from missions.db.models import LedgerEntryRow
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
