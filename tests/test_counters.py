"""Hardware counters through perf_event_open: the plumbing against a fake kernel (every
outcome a real one can give), and the real counters where this machine has a PMU."""

from __future__ import annotations

import errno
import struct
import threading

import pytest

from bench.measure import counters
from bench.measure.counters import EVENT_CONFIG, CounterMeter
from bench.measure.counts import EVENTS, Counts


class FakeKernel:
    """Counters that advance by a fixed amount per enabled call; per-event errors; optional
    time-sharing (the kernel's multiplexing: running < enabled)."""

    def __init__(self, errors=None, per_call=None, running_fraction=None):
        self.errors = errors or {}
        self.per_call = per_call or {e: 1000 * (i + 1) for i, e in enumerate(EVENTS)}
        self.running_fraction = running_fraction or {}
        self.events: dict[int, str] = {}
        self.values: dict[int, int] = {}
        self.enabled: set[int] = set()
        self.log: list[tuple[str, str]] = []
        self.closed: set[int] = set()

    def open(self, attr: bytes) -> int:
        kind, size, config = struct.unpack_from("=IIQ", attr)
        assert size == len(attr) == 64
        event = next(e for e, (k, c) in EVENT_CONFIG.items() if (k, c) == (kind, config))
        if event in self.errors:
            raise OSError(self.errors[event], "fake")
        fd = 100 + len(self.events)
        self.events[fd] = event
        self.values[fd] = 0
        return fd

    def control(self, fd: int, request: int) -> None:
        name = {0x2400: "enable", 0x2401: "disable", 0x2403: "reset"}[request]
        self.log.append((name, self.events[fd]))
        if name == "reset":
            self.values[fd] = 0
        elif name == "enable":
            self.enabled.add(fd)
        else:
            self.enabled.discard(fd)

    def work(self) -> None:
        """What a measured call does to the counters that are running."""
        for fd in self.enabled:
            self.values[fd] += self.per_call[self.events[fd]]

    def read(self, fd: int) -> tuple[int, int, int]:
        fraction = self.running_fraction.get(self.events[fd], 1.0)
        value = int(self.values[fd] * fraction)
        return value, 1000, int(1000 * fraction)

    def close(self, fd: int) -> None:
        self.closed.add(fd)


def test_attr_counts_user_space_of_this_process_and_its_threads():
    kind, size, config, _, _, read_format, flags = struct.unpack_from(
        "=IIQQQQQ", counters.attr_bytes(0, 1)
    )
    assert (kind, size, config) == (0, 64, 1)
    assert flags & 1 and flags & 2, "starts disabled, inherited by new threads"
    assert flags & (1 << 5), "user space only: perf_event_paranoid 2 allows it"
    assert read_format == 3, "time enabled and running, to scale multiplexed counts"


def test_counts_every_event_around_the_call_only():
    kernel = FakeKernel()
    meter = CounterMeter(kernel)
    kernel.work()  # before the call: not counted
    result, counts = meter.measure(lambda: kernel.work() or "answer")
    kernel.work()  # after: not counted
    assert result == "answer"
    assert counts.source == "perf" and counts.scope == "call"
    assert [getattr(counts, e) for e in EVENTS] == [kernel.per_call[e] for e in EVENTS]
    assert counts.unknown_reason is None
    assert counts.ipc == kernel.per_call["instructions"] / kernel.per_call["cycles"]
    # reset before enable, disable after, for every event
    names = [name for name, _ in kernel.log]
    assert names == ["reset"] * 6 + ["enable"] * 6 + ["disable"] * 6


def test_a_second_call_is_counted_from_zero():
    kernel = FakeKernel()
    meter = CounterMeter(kernel)
    meter.measure(kernel.work)
    _, counts = meter.measure(lambda: (kernel.work(), kernel.work()))
    assert counts.instructions == 2 * kernel.per_call["instructions"]


def test_no_pmu_every_event_unknown_with_the_reason_never_zero():
    kernel = FakeKernel(errors=dict.fromkeys(EVENTS, errno.ENOENT))
    meter = CounterMeter(kernel)
    assert not meter.available
    result, counts = meter.measure(lambda: 42)
    assert result == 42
    assert all(getattr(counts, e) is None for e in EVENTS)
    assert counts.unknown_reason.startswith("no PMU: perf_event_open fails with ENOENT")
    assert counts.ipc is None


def test_forbidden_by_paranoid_says_so():
    kernel = FakeKernel(errors=dict.fromkeys(EVENTS, errno.EACCES))
    _, counts = CounterMeter(kernel).measure(lambda: None)
    assert all(getattr(counts, e) is None for e in EVENTS)
    assert "perf_event_paranoid" in counts.unknown_reason


def test_an_event_this_pmu_lacks_is_unknown_the_others_counted():
    kernel = FakeKernel(errors={"llc_misses": errno.ENOENT, "l1d_misses": errno.ENODEV})
    meter = CounterMeter(kernel)
    _, counts = meter.measure(kernel.work)
    assert counts.llc_misses is None and counts.l1d_misses is None
    assert counts.instructions == kernel.per_call["instructions"]
    assert "does not count llc_misses (ENOENT)" in counts.unknown_reason
    assert "does not count l1d_misses (ENODEV)" in counts.unknown_reason
    assert "no PMU" not in counts.unknown_reason


def test_time_shared_counters_are_scaled_as_perf_does_and_unscheduled_ones_unknown():
    kernel = FakeKernel(running_fraction={"cycles": 0.5, "branches": 0.0})
    _, counts = CounterMeter(kernel).measure(kernel.work)
    assert counts.cycles == kernel.per_call["cycles"]  # half counted over half the time
    assert counts.branches is None
    assert "branches: never scheduled" in counts.unknown_reason


def test_counters_stop_when_the_call_raises():
    kernel = FakeKernel()
    meter = CounterMeter(kernel)
    with pytest.raises(ZeroDivisionError):
        meter.measure(lambda: 1 / 0)
    assert not kernel.enabled
    meter.close()
    assert kernel.closed == set(kernel.events)


def test_an_unknown_count_needs_a_reason():
    with pytest.raises(AssertionError):
        Counts(source="perf", scope="call", instructions=5)
    counts = Counts(source="perf", scope="call", **dict.fromkeys(EVENTS, 10))
    assert counts.per_unit(5)["instructions"] == 2.0
    assert Counts.from_dict(counts.to_dict()) == counts


# --- the real kernel -------------------------------------------------------------------------


def _real_meter() -> CounterMeter:
    meter = CounterMeter()
    if meter.counted_nothing:
        pytest.skip(f"no hardware counters here: {next(iter(meter.reasons.values()))}")
    return meter


def test_this_machine_says_why_when_it_has_no_counters():
    """On a machine without a PMU (this VM: ENOENT) every event is unknown with the reason;
    elsewhere at least instructions are counted."""
    meter = CounterMeter()
    _, counts = meter.measure(lambda: sum(range(10_000)))
    if meter.counted_nothing:
        assert all(getattr(counts, e) is None for e in EVENTS)
        assert counts.unknown_reason
    else:
        assert counts.instructions and counts.instructions > 10_000


def _loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def test_real_counters_grow_with_the_work():
    meter = _real_meter()
    meter.measure(lambda: _loop(1000))  # warm
    _, small = meter.measure(lambda: _loop(200_000))
    _, large = meter.measure(lambda: _loop(400_000))
    assert small.instructions and large.instructions
    assert 1.6 < large.instructions / small.instructions < 2.4


def test_real_counters_include_the_threads_the_call_starts():
    """inherit: a thread started inside the call is counted (when it exits)."""
    meter = _real_meter()

    def in_a_thread():
        worker = threading.Thread(target=_loop, args=(400_000,))
        worker.start()
        worker.join()

    _, alone = meter.measure(lambda: None)
    _, threaded = meter.measure(in_a_thread)
    assert threaded.instructions > alone.instructions + 400_000


# --- bankbench run --measure counters --------------------------------------------------------


def test_run_with_counters_stores_them_or_says_why_and_exits_0(tmp_path, capsys):
    """Counters beside the time: here (no PMU) every count is stored as unknown with the
    reason, the run exits 0 and its summary says so; on a machine with a PMU, counted."""
    from bench import cli
    from bench.store import Store

    store = str(tmp_path / "store")
    code = cli.main(
        ["run", "--measure", "counters", "-p", "smoke", "-w", "loan.limit", "-e", "c", "-t", "1"]
        + ["--store", store, "--label", "counted"]
    )
    assert code == 0
    out = capsys.readouterr().out
    samples = Store(store).samples().to_pylist()
    assert samples and all(s["measure"] == "counters" for s in samples)
    assert all(s["seconds"] > 0 for s in samples)  # the time is measured as ever
    if CounterMeter().counted_nothing:
        assert all(s[e] is None for s in samples for e in EVENTS)
        assert all(s["counts_unknown"] for s in samples)
        assert "unknown: no PMU" in out or "unknown: perf_event_open" in out
    else:
        assert all(s["instructions"] and s["cycles"] for s in samples)
        assert "IPC" in out
