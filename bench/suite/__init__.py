"""pytest-benchmark modules that ``bankbench run`` executes; each also runs as a quick test."""
