"""The commands of ``bankbench``, one module each: ``NAME`` and ``HELP``, ``add_arguments(p)``
declaring its arguments, ``main(args)`` doing the work and rendering its own output, and an
optional ``EPILOG``. bench.cli builds the parser from COMMANDS and is the one place that
prints errors."""

from bench.commands import (
    audit,
    calibrate,
    compare,
    env,
    export,
    import_files,
    list_workloads,
    memory,
    new_workload,
    probe,
    report,
    run,
    runs,
    scaling_bound,
    show,
    verify,
)

# in the order `bankbench --help` lists them
COMMANDS = (
    list_workloads,
    verify,
    run,
    calibrate,
    runs,
    show,
    export,
    import_files,
    env,
    probe,
    scaling_bound,
    compare,
    audit,
    report,
    memory,
    new_workload,
)
