"""The exit statuses of ``bankbench`` (documented in each command's epilog)."""

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2
EXIT_REGRESSION, EXIT_NOT_COMPARABLE, EXIT_OUTPUTS_DIFFER = 3, 4, 5
EXIT_CANNOT_DECIDE = 6  # compare --fail-on-regression: the samples cannot detect the threshold
