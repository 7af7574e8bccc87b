"""The payout a mission owes its provider while it waits to go out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PayoutNext(StrEnum):
    """Where the mission goes once the payout is transferred."""

    REVIEW = "review"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PendingPayout:
    amount_minor: int
    purpose: str
    then: PayoutNext
