"""`missions ledger check`: every mission's ledger against the read model and Stripe.

For each mission the check verifies that every entry is a valid movement and that an ended
mission has nothing left in escrow. It then compares the ledger's totals with the mission's
recorded money and with what Stripe reports for the mission's PaymentIntents, refunds and
transfers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from missions.activity_models import LedgerAccount
from missions.contracts import TERMINAL_STATES, MissionState
from missions.db.models import LedgerEntryRow, MissionRow
from missions.db.repositories import account_balances, list_ledger_entries
from missions.payments import StripeTotals, mission_totals


@dataclass
class MissionCheck:
    mission_id: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class LedgerTotals:
    captured_minor: int
    refunded_minor: int
    charged_back_minor: int
    transferred_minor: int
    escrow_minor: int
    platform_revenue_minor: int


def ledger_totals(rows: list[LedgerEntryRow]) -> LedgerTotals:
    balances = account_balances(rows)

    def total(*kinds: str) -> int:
        return sum(row.amount_minor for row in rows if row.kind.startswith(kinds))

    return LedgerTotals(
        captured_minor=total("capture"),
        refunded_minor=total("refund_"),
        charged_back_minor=total("chargeback"),
        transferred_minor=balances[LedgerAccount.PROVIDER],
        escrow_minor=balances[LedgerAccount.ESCROW],
        platform_revenue_minor=balances[LedgerAccount.PLATFORM_REVENUE],
    )


def _compare(problems: list[str], quantity: str, expected: int, found: int, source: str) -> None:
    if expected != found:
        problems.append(
            f"{quantity}: ledger {expected}, {source} {found} (difference {found - expected})"
        )


def _charged_back(mission: MissionRow) -> int:
    money = (mission.snapshot or {}).get("money") or {}
    value = money.get("charged_back_minor", 0)
    return value if isinstance(value, int) else 0


def check_mission(
    session: Session, mission: MissionRow, stripe_totals: StripeTotals | None
) -> MissionCheck:
    """Check one mission; `stripe_totals` None skips the comparison with Stripe."""
    result = MissionCheck(mission.id)
    rows = list_ledger_entries(session, mission.id)
    for row in rows:
        if row.amount_minor <= 0 or row.debit_account == row.credit_account:
            result.problems.append(
                f"entry {row.key} is invalid: {row.amount_minor} from {row.credit_account} "
                f"to {row.debit_account}"
            )
    totals = ledger_totals(rows)
    ended = MissionState(mission.state) in TERMINAL_STATES and not mission.payout_pending
    if ended and totals.escrow_minor != 0:
        result.problems.append(f"mission ended with {totals.escrow_minor} still in escrow")
    recorded = (
        ("captured", totals.captured_minor, mission.captured_minor),
        ("refunded", totals.refunded_minor, mission.refunded_minor),
        ("paid to provider", totals.transferred_minor, mission.provider_payout_minor),
        ("platform revenue", totals.platform_revenue_minor, mission.platform_revenue_minor),
        ("charged back", totals.charged_back_minor, _charged_back(mission)),
    )
    for quantity, in_ledger, in_mission in recorded:
        _compare(result.problems, quantity, in_ledger, in_mission, "mission")
    if stripe_totals is not None:
        reported = (
            ("captured", totals.captured_minor, stripe_totals.captured_minor),
            ("refunded", totals.refunded_minor, stripe_totals.refunded_minor),
            ("transferred", totals.transferred_minor, stripe_totals.transferred_minor),
        )
        for quantity, in_ledger, at_stripe in reported:
            _compare(result.problems, quantity, in_ledger, at_stripe, "Stripe")
    return result


def check_all(
    sessions: sessionmaker[Session],
    stripe_client: stripe.StripeClient | None,
    progress: Callable[[MissionCheck], None] | None = None,
) -> list[MissionCheck]:
    """Check every mission of the read model and return the results, failures included."""
    with sessions() as session:
        mission_ids = list(session.scalars(select(MissionRow.id).order_by(MissionRow.created_at)))
    results = []
    for mission_id in mission_ids:
        stripe_totals = mission_totals(stripe_client, mission_id) if stripe_client else None
        with sessions() as session:
            mission = session.get(MissionRow, mission_id)
            if mission is None:
                continue
            result = check_mission(session, mission, stripe_totals)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
