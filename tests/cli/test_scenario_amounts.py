"""The expected amounts of the project's cases file, recomputed from the fee rules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from missions import money
from missions.contracts import TERMINAL_STATES, MissionState
from missions.demo.runner import DEFAULT_CASES_PATH
from missions.demo.scenarios import (
    DECLINING_PAYMENT_METHODS,
    CancelStep,
    ConfirmStep,
    MissionCase,
    PayStep,
    RequestReleaseStep,
    ResolveStep,
    ReviewStep,
    SelectStep,
    load_cases,
)

CASES = load_cases(DEFAULT_CASES_PATH)
# Missions that end; the others stop in a state where ops still hold the money in escrow.
ENDED = [case for case in CASES if case.expect.final_state in TERMINAL_STATES]
FEES = money.FeePolicy()
CANCELLATION = money.CancellationPolicy()


@dataclass
class Ledger:
    captured: int = 0
    refunded: int = 0
    payout: int = 0
    declines: int = 0
    reviews: int = 0

    @property
    def held(self) -> int:
        return self.captured - self.refunded - self.payout


def replay_money(case: MissionCase) -> Ledger:
    """Follow the script's money moves with the fee and cancellation rules alone."""
    ledger = Ledger()
    quote: money.Quote | None = None
    selected: int | None = None
    completion_requested = False
    for step in case.script:
        if step.expect_error:
            continue
        if isinstance(step, SelectStep):
            selected = step.application
        elif isinstance(step, PayStep):
            if step.payment_method in DECLINING_PAYMENT_METHODS:
                ledger.declines += 1
                continue
            assert selected is not None
            price = case.applications[selected].price_minor
            quote = money.quote(price, case.currency, FEES)
            ledger.captured += quote.client_total_minor
        elif isinstance(step, RequestReleaseStep):
            completion_requested = True
        elif isinstance(step, ConfirmStep):
            assert quote is not None
            ledger.payout += quote.provider_payout_minor
        elif isinstance(step, ResolveStep):
            ledger.refunded += step.refund_minor
            ledger.payout += step.release_minor
        elif isinstance(step, CancelStep) and ledger.held:
            assert quote is not None
            if step.by == "provider":
                ledger.refunded += ledger.held
                quote = None
                continue
            hours_before = (case.scheduled_in_days or 0) * 24
            late = hours_before < CANCELLATION.free_until_hours_before
            split = money.late_cancellation_split(quote, CANCELLATION, late=late)
            ledger.refunded += split.refund_minor
            ledger.payout += split.provider_payout_minor
        elif isinstance(step, ReviewStep):
            ledger.reviews += 1
    if completion_requested and quote is not None and ledger.held == quote.client_total_minor:
        # Neither party confirmed or disputed, so the confirmation window releases the payout.
        ledger.payout += quote.provider_payout_minor
    return ledger


@pytest.mark.parametrize("case", ENDED, ids=[case.ref for case in ENDED])
def test_expected_amounts_follow_fee_rules(case: MissionCase) -> None:
    ledger = replay_money(case)
    expect = case.expect
    assert expect.captured_minor == ledger.captured
    assert expect.refunded_minor == ledger.refunded
    assert expect.provider_payout_minor == ledger.payout
    # Once nothing is held in escrow, the platform keeps what was neither refunded nor paid out.
    assert expect.platform_revenue_minor == ledger.held
    assert expect.reviews_published == ledger.reviews
    if expect.declined_attempts is not None:
        assert expect.declined_attempts == ledger.declines


@pytest.mark.parametrize("case", ENDED, ids=[case.ref for case in ENDED])
def test_expected_amounts_balance(case: MissionCase) -> None:
    expect = case.expect
    assert (
        expect.refunded_minor + expect.provider_payout_minor + expect.platform_revenue_minor
        == expect.captured_minor
    )


def _expect(ref: str) -> tuple[int, int, int, int]:
    expect = next(case.expect for case in CASES if case.ref == ref)
    return (
        expect.captured_minor,
        expect.provider_payout_minor,
        expect.platform_revenue_minor,
        expect.refunded_minor,
    )


def test_amounts_checked_by_hand() -> None:
    # 149.50: fee 5 % = 7.475 -> 7.48, commission 10 % = 14.95.
    # Total 149.50 + 7.48 = 157.48; payout 149.50 - 14.95 = 134.55; platform 7.48 + 14.95.
    assert _expect("fuite-evier-lyon") == (15698, 13455, 2243, 0)
    # 89.90: fee 4.495 -> 4.50, commission 8.99. Total 94.40, payout 80.91, platform 13.49.
    assert _expect("armoire-nantes") == (9440, 8091, 1349, 0)
    # 459.90: fee 22.995 -> 23.00, commission 45.99. Total 482.90, payout 413.91.
    assert _expect("peinture-toulouse") == (48290, 41391, 6899, 0)
    # 682.50: fee 34.125 -> 34.13, so the client pays 716.63. Ops refunds 200.00 and
    # releases 450.00 to the provider; the platform keeps 716.63 - 650.00 = 66.63.
    assert _expect("tableau-electrique-marseille") == (71663, 45000, 6663, 20000)


def test_late_cancellation_checked_by_hand() -> None:
    # 159.90: fee 7.995 -> 8.00, commission 15.99. Client total 167.90, payout share 143.91.
    # Refund 50 % of 167.90 = 83.95; provider 50 % of 143.91 = 71.955 -> 71.96;
    # the platform keeps 167.90 - 83.95 - 71.96 = 11.99.
    assert _expect("serrure-paris") == (16790, 7196, 1199, 8395)


def test_full_refunds_checked_by_hand() -> None:
    # 320.00 + 5 % = 336.00, all refunded when cancelled two weeks ahead.
    assert _expect("demenagement-rennes") == (33600, 0, 0, 33600)
    # 540.00 + 5 % = 567.00, all refunded when the provider withdraws.
    assert _expect("carrelage-montpellier") == (56700, 0, 0, 56700)
    # 139.90 + 7.00 (6.995 rounded half up) = 146.90, all refunded by ops.
    assert _expect("chauffe-eau-grenoble") == (14690, 0, 0, 14690)


def test_unfunded_missions_move_no_money() -> None:
    for case in CASES:
        if case.expect.final_state is MissionState.EXPIRED:
            assert _expect(case.ref) == (0, 0, 0, 0)


def test_open_dispute_holds_everything() -> None:
    # 210.00: fee 10.50, so 220.50 captured and all of it still in escrow.
    assert _expect("parquet-rouen") == (22050, 0, 0, 0)
    waiting = [case.ref for case in CASES if case not in ENDED]
    assert waiting == ["parquet-rouen"]
