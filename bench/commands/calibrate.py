"""``bankbench calibrate``: this host's noise floor from A/A runs."""

from __future__ import annotations

from bench.commands._arguments import add_run_options, plan_of, profiles_epilog
from bench.commands._exit import EXIT_OK

NAME = "calibrate"
HELP = "this host's noise floor: the selection twice (A/A), CV and detectable change"
EPILOG = profiles_epilog()


def add_arguments(p) -> None:
    add_run_options(p)  # --label: the two runs are <label>-A and <label>-B


def main(args) -> int:
    from bench import calibrate, fingerprint
    from bench.store import Store
    from workloads.errors import InputError

    plan = plan_of(args)
    if plan.measure != "time":  # counts of one code repeat; only time has a noise floor
        raise InputError(
            f"calibrate measures this host's timing noise: drop --measure {plan.measure}"
        )
    Store(args.store)  # an unusable store is named first, as by every command
    emulation = fingerprint.host_emulation()
    if emulation:  # before minutes of runs whose timings compare would refuse anyway
        raise InputError(
            f"calibrate refused: this host is emulated ({emulation}): its timings are "
            "invalid, so it has no noise floor; calibrate the real machine"
        )
    rows = calibrate.calibrate(plan, args.store)
    print(f"\n{'benchmark':<40} {'samples':>7} {'CV':>7} {'A/A ratio':>10} {'detectable':>11}")
    for r in rows:
        print(
            f"{r.benchmark:<40} {r.samples:>7} {r.cv * 100:>6.2f}% {r.aa_ratio:>9.3f}× "
            f"{r.detectable_change * 100:>10.1f}%"
        )
    from bench.compare import noisy_calibration

    print(noisy_calibration(rows) or "this host can detect a 10 % change in every benchmark")
    return EXIT_OK
