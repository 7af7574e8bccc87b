"""Fee arithmetic: half-up rounding and the money identity of every mission."""

from __future__ import annotations

import pytest

from missions.money import (
    CancellationPolicy,
    FeePolicy,
    late_cancellation_split,
    quote,
    share_half_up,
)


@pytest.mark.parametrize(
    ("amount", "bps", "expected"),
    [
        (12050, 500, 603),
        (12050, 1000, 1205),
        (9999, 500, 500),
        (10, 500, 1),
        (9, 500, 0),
        (0, 500, 0),
    ],
)
def test_share_rounds_half_up(amount: int, bps: int, expected: int) -> None:
    assert share_half_up(amount, bps) == expected


def test_quote_matches_default_policy() -> None:
    result = quote(12050, "EUR", FeePolicy())
    assert result.client_fee_minor == 603
    assert result.commission_minor == 1205
    assert result.client_total_minor == 12653
    assert result.provider_payout_minor == 10845
    assert result.platform_revenue_minor == 1808


@pytest.mark.parametrize("price", [1, 19, 20, 333, 7500, 9999, 12050, 1_000_000])
def test_total_equals_payout_plus_revenue(price: int) -> None:
    result = quote(price, "EUR", FeePolicy())
    assert result.client_total_minor == result.provider_payout_minor + result.platform_revenue_minor


def test_quote_rejects_non_positive_price() -> None:
    with pytest.raises(ValueError, match="price 0"):
        quote(0, "EUR", FeePolicy())


def test_late_cancellation_split_sums_to_total() -> None:
    captured = quote(15990, "EUR", FeePolicy())
    split = late_cancellation_split(captured, CancellationPolicy(), late=True)
    assert captured.client_total_minor == 16790
    assert split.refund_minor == 8395
    assert split.provider_payout_minor == 7196
    assert split.platform_revenue_minor == 1199
    total = split.refund_minor + split.provider_payout_minor + split.platform_revenue_minor
    assert total == captured.client_total_minor


def test_cancellation_in_time_refunds_all() -> None:
    captured = quote(6000, "EUR", FeePolicy())
    split = late_cancellation_split(captured, CancellationPolicy(), late=False)
    assert split.refund_minor == 6300
    assert split.provider_payout_minor == 0
    assert split.platform_revenue_minor == 0
