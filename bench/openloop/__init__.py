"""Open-loop load: requests on a fixed arrival schedule, latency from the intended arrival
(driver.py), HdrHistogram counts (histogram.py), the schedule itself (schedule.py)."""

from bench.openloop.driver import (
    FLAGS,
    PointResult,
    closed_loop_peak_per_s,
    run_point,
    simulate,
    supports,
)

__all__ = ["FLAGS", "PointResult", "closed_loop_peak_per_s", "run_point", "simulate", "supports"]
