"""Synthetic loan applicants shared by loan.score, loan.limit and loan.decide.

A latent class (good 93 % / bad 7 %) drives every feature through class-specific integer
histograms, so the scorecard's bins carry signal. All integers, all from named streams.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from workloads._rng import Stream

FEATURES = {
    "bureau_score": pa.int64(),
    "age": pa.int64(),
    "monthly_income_fen": pa.int64(),
    "months_on_platform": pa.int64(),
    "wechat_pay_txn_count_90d": pa.int64(),
    "inquiries_30d": pa.int64(),
    "debt_to_income_bp": pa.int64(),
    "city_tier": pa.int64(),
    "device_age_days": pa.int64(),
    "has_mortgage": pa.int64(),
}

# feature → (good histogram, bad histogram), buckets of (weight, lo, hi)
HISTOGRAMS = {
    "bureau_score": (
        [(10, 300, 549), (30, 550, 649), (60, 650, 900)],
        [(40, 300, 549), (40, 550, 649), (20, 650, 900)],
    ),
    "age": ([(15, 18, 24), (55, 25, 40), (30, 41, 60)], [(40, 18, 24), (45, 25, 40), (15, 41, 60)]),
    "monthly_income_fen": (
        [(20, 2_000_00, 5_000_00), (50, 5_000_01, 15_000_00), (30, 15_000_01, 60_000_00)],
        [(45, 2_000_00, 5_000_00), (45, 5_000_01, 15_000_00), (10, 15_000_01, 60_000_00)],
    ),
    "months_on_platform": (
        [(20, 0, 6), (40, 7, 36), (40, 37, 120)],
        [(50, 0, 6), (35, 7, 36), (15, 37, 120)],
    ),
    "wechat_pay_txn_count_90d": (
        [(10, 0, 20), (40, 21, 150), (50, 151, 900)],
        [(40, 0, 20), (40, 21, 150), (20, 151, 900)],
    ),
    "inquiries_30d": ([(70, 0, 2), (25, 3, 6), (5, 7, 20)], [(30, 0, 2), (40, 3, 6), (30, 7, 20)]),
    "debt_to_income_bp": (
        [(60, 0, 3000), (30, 3001, 6000), (10, 6001, 15000)],
        [(30, 0, 3000), (40, 3001, 6000), (30, 6001, 15000)],
    ),
    "city_tier": (
        [(20, 1, 1), (25, 2, 2), (25, 3, 3), (20, 4, 4), (10, 5, 5)],
        [(10, 1, 1), (20, 2, 2), (25, 3, 3), (25, 4, 4), (20, 5, 5)],
    ),
    "device_age_days": (
        [(10, 0, 30), (30, 31, 365), (60, 366, 2000)],
        [(40, 0, 30), (35, 31, 365), (25, 366, 2000)],
    ),
    "has_mortgage": ([(35, 1, 1), (65, 0, 0)], [(15, 1, 1), (85, 0, 0)]),
}


def features(n: int, seed: int, table: str = "applicants") -> dict[str, np.ndarray]:
    bad = Stream(seed, f"{table}.latent_class").chance(n, 7, 100)
    out = {}
    for name, (good_hist, bad_hist) in HISTOGRAMS.items():
        good_values = Stream(seed, f"{table}.{name}.good").histogram(n, good_hist)
        bad_values = Stream(seed, f"{table}.{name}.bad").histogram(n, bad_hist)
        out[name] = np.where(bad, bad_values, good_values)
    out["is_bad"] = bad.astype(np.uint8)
    return out


def monthly_debt_fen(income: np.ndarray, debt_to_income_bp: np.ndarray) -> np.ndarray:
    """Existing monthly debt service consistent with the applicant's debt-to-income ratio."""
    return income * debt_to_income_bp // 10_000


def products(n: int, seed: int, table: str = "applicants") -> np.ndarray:
    """0 = micro-loan (微粒贷-like, 90 %), 1 = SME loan (微业贷-like, 10 %)."""
    return Stream(seed, f"{table}.product").chance(n, 10, 100).astype(np.uint8)
