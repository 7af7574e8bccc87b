"""The payout a mission owes its provider while it waits to go out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PayoutNext(StrEnum):
    """The mission's next state once the payout is transferred.

    A late cancellation's share is paid to a mission that is already cancelled, so it
    stays where it is.
    """

    REVIEW = "review"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class PendingPayout:
    amount_minor: int
    purpose: str
    then: PayoutNext
