"""Fee arithmetic in integer minor units, shared by the workflow, the API and the demo."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

BASIS_POINTS = 10_000
SUPPORTED_CURRENCIES = frozenset({"EUR"})
# Stripe's minimum charge in EUR is 0.50 €; a price below it could never be paid.
MIN_PRICE_MINOR = 50
MAX_PRICE_MINOR = 10_000_000


def share_half_up(amount_minor: int, basis_points: int) -> int:
    """Return `amount_minor * basis_points / 10 000`, rounded half up to the minor unit."""
    if amount_minor < 0 or basis_points < 0:
        raise ValueError(f"amount {amount_minor} and basis points {basis_points} must be >= 0")
    return (amount_minor * basis_points * 2 + BASIS_POINTS) // (2 * BASIS_POINTS)


class FeePolicy(BaseModel):
    """Percentages, in basis points of the price, that the platform adds and keeps."""

    model_config = ConfigDict(frozen=True)

    client_fee_bps: int = Field(default=500, ge=0, le=BASIS_POINTS)
    commission_bps: int = Field(default=1000, ge=0, le=BASIS_POINTS)


class Quote(BaseModel):
    """Every amount of one mission's money, derived from the agreed price."""

    model_config = ConfigDict(frozen=True)

    currency: str
    price_minor: int
    client_fee_minor: int
    commission_minor: int
    client_total_minor: int
    provider_payout_minor: int
    platform_revenue_minor: int


def quote(price_minor: int, currency: str, policy: FeePolicy) -> Quote:
    """Compute the client's total, the provider's payout and the platform's revenue."""
    if price_minor <= 0:
        raise ValueError(f"price {price_minor} must be a positive number of minor units")
    client_fee = share_half_up(price_minor, policy.client_fee_bps)
    commission = share_half_up(price_minor, policy.commission_bps)
    return Quote(
        currency=currency,
        price_minor=price_minor,
        client_fee_minor=client_fee,
        commission_minor=commission,
        client_total_minor=price_minor + client_fee,
        provider_payout_minor=price_minor - commission,
        platform_revenue_minor=client_fee + commission,
    )


class CancellationPolicy(BaseModel):
    """How much of a funded mission a client gets back when cancelling."""

    model_config = ConfigDict(frozen=True)

    free_until_hours_before: int = Field(default=24, ge=0)
    late_refund_bps: int = Field(default=5000, ge=0, le=BASIS_POINTS)


class CancellationSplit(BaseModel):
    """The split of the captured money when a client cancels a funded mission."""

    model_config = ConfigDict(frozen=True)

    refund_minor: int
    provider_payout_minor: int
    platform_revenue_minor: int


def late_cancellation_split(
    captured: Quote, policy: CancellationPolicy, *, late: bool
) -> CancellationSplit:
    """Split the captured total for a client cancellation.

    A cancellation in time refunds everything. A late one refunds `late_refund_bps` of the
    client's total and pays the provider the rest of their payout share, so the provider is
    compensated for the slot, and the platform keeps what remains.
    """
    total = captured.client_total_minor
    if not late:
        return CancellationSplit(
            refund_minor=total, provider_payout_minor=0, platform_revenue_minor=0
        )
    kept_bps = BASIS_POINTS - policy.late_refund_bps
    provider = share_half_up(captured.provider_payout_minor, kept_bps)
    refund = min(share_half_up(total, policy.late_refund_bps), total - provider)
    return CancellationSplit(
        refund_minor=refund,
        provider_payout_minor=provider,
        platform_revenue_minor=total - refund - provider,
    )
