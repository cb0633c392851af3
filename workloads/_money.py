"""Integer money arithmetic of the Python reference: the twin of native/src/internal.h.

Money is int64 fen; rates are integer ppm of the annual rate; intermediates may be 128-bit,
and every bound the C core checks is checked here too, so both fail the same way.
"""

from __future__ import annotations

I64_MAX = 2**63 - 1
U128_MAX = 2**128 - 1
FIXED_SCALE = 10**15  # S, the annuity factor's fixed-point scale (workloads.md §4.2)
MONTHLY_DIVISOR = 12_000_000  # balance·ppm / (12·10^6) is one month's interest


def div_floor(numerator: int, denominator: int) -> int:
    return numerator // denominator


def div_round_half_up(numerator: int, denominator: int) -> int:
    """Round half up (四舍五入) for numerator >= 0, denominator > 0."""
    quotient, remainder = divmod(numerator, denominator)
    return quotient + (1 if remainder >= denominator - remainder else 0)


def annuity_factor(annual_rate_ppm: int, n_periods: int) -> int | None:
    """The equal-installment factor in units of S; 0 for a zero rate; None on overflow.

    r = floor(ppm·S / 12e6); growth = S, then n times growth = floor(growth·(S + r) / S);
    factor = floor(r·growth / (growth − S)). Every product must fit in 128 bits.
    """
    rate_scaled = div_floor(annual_rate_ppm * FIXED_SCALE, MONTHLY_DIVISOR)
    if rate_scaled == 0:
        return 0
    growth = FIXED_SCALE
    for _ in range(n_periods):
        product = growth * (FIXED_SCALE + rate_scaled)
        if product > U128_MAX:
            return None
        growth = div_floor(product, FIXED_SCALE)
    if rate_scaled * growth > U128_MAX:
        return None
    return div_floor(rate_scaled * growth, growth - FIXED_SCALE)


def annuity_payment(principal_fen: int, annual_rate_ppm: int, n_periods: int) -> int | None:
    """The equal installment, round half up to the fen; None when it does not fit."""
    factor = annuity_factor(annual_rate_ppm, n_periods)
    if factor is None:
        return None
    if factor == 0:
        return div_round_half_up(principal_fen, n_periods)
    product = principal_fen * factor
    if product > U128_MAX:
        return None
    payment = div_round_half_up(product, FIXED_SCALE)
    return payment if payment <= I64_MAX else None


def monthly_interest(balance_fen: int, annual_rate_ppm: int) -> int | None:
    interest = div_round_half_up(balance_fen * annual_rate_ppm, MONTHLY_DIVISOR)
    return interest if interest <= I64_MAX else None
