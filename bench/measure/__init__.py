"""How a benchmark is measured besides the wall clock.

``instructions``: executed instructions (and a simulated cache's and branch predictor's
misses) under Valgrind's callgrind — deterministic, so a CI gate on a noisy shared runner
can fire on a 1 % change (bench/measure/callgrind.py). ``counters``: this CPU's own counters
through perf_event_open — cycles, IPC, misses per unit, why one machine is slower
(bench/measure/counters.py). Both give a ``Counts`` record per call (bench/measure/counts.py).
"""
