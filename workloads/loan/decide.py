"""loan.decide — the end-to-end credit decision: fraud → score → limit → price → offer.

What it models: one drawdown application through an automated lender, composed from the
other loan workloads' kernels (no second copy of any of them):
1. fraud: the application is a drawdown event (loan.fraud rules and state, in (ts, id) order);
2. score: the scorecard (loan.score) gives score, band and the score decision;
3. limit: loan.limit with the band from the score;
4. price: the annual rate by band (``pricing``: rate_ppm_by_band, default_n_periods);
5. offer: approved = min(requested, limit), an equal-installment schedule (loan.schedule)
   over n_periods (0 = the default) → the first installment and the total interest.
Decision (0 decline, 1 approve, 2 refer), first match wins: fraud reject → decline; a row
status of invalid input, overflow or out of range → refer; score decline, limit 0 or
nothing requested → decline; the offer cannot be built → refer; fraud review → refer (with
the offer); else approve. Status is the OR of the steps' row statuses.

Inputs: ``applications`` (the loan.fraud event columns with type 1 and amount_fen = the
requested amount; the scorecard's feature columns; monthly_debt_fen i64; product u8;
n_periods u16), ``scorecard``, ``limit_params``, ``pricing`` (one-row JSON tables),
``rules``, ``lists`` (as loan.fraud). Outputs: ``offers``. Unit: applications. Modes: batch
(a table per call; the fraud screen by key, then rows, across threads) and online (one
application per C call, the fraud state carried between calls — for latency).
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from native import ffi, lib
from workloads import _native, _tables
from workloads._base import BATCH, CAPACITY, ONLINE, Benchmark, Workload, scaled
from workloads._rng import Stream
from workloads.errors import InputError
from workloads.loan import _applicants, fraud, limit, schedule, score
from workloads.loan import scorecard as cards

DECLINE, APPROVE, REFER = 0, 1, 2
NEEDS_REFERRAL = schedule.STATUS_INVALID | schedule.STATUS_OVERFLOW | score.STATUS_OUT_OF_RANGE

APPLICATIONS = {
    **fraud.EVENTS,
    "monthly_debt_fen": pa.int64(),
    "product": pa.uint8(),
    "n_periods": pa.uint16(),
}
OFFERS = {
    "event_id": pa.uint64(),
    "decision": pa.uint8(),
    "fraud_rules": pa.uint32(),
    "score": pa.int32(),
    "band": pa.uint8(),
    "limit_fen": pa.int64(),
    "approved_fen": pa.int64(),
    "rate_ppm": pa.uint32(),
    "installment_fen": pa.int64(),
    "total_interest_fen": pa.int64(),
    "status": pa.uint8(),
}
DEFAULT_PRICING = {
    "rate_ppm_by_band": [72_000, 108_000, 144_000, 180_000, 180_000],
    "default_n_periods": 10,
}


def parse_pricing(table: pa.Table) -> dict:
    if table.num_rows != 1:
        raise InputError(f"loan.decide pricing table must have one row, got {table.num_rows}")
    try:
        p = json.loads(table.column("json")[0].as_py())
    except json.JSONDecodeError as error:
        raise InputError(f"loan.decide pricing: not valid JSON ({error.msg})") from None
    rates = p.get("rate_ppm_by_band")
    if (
        not isinstance(rates, list)
        or not 1 <= len(rates) <= lib.BB_LIMIT_BANDS_MAX
        or not all(isinstance(r, int) and 0 <= r < 2**32 for r in rates)
    ):
        raise InputError(
            "loan.decide pricing field 'rate_ppm_by_band' must list 1 to "
            f"{lib.BB_LIMIT_BANDS_MAX} rates in ppm"
        )
    n = p.get("default_n_periods")
    if not isinstance(n, int) or not 1 <= n <= schedule.PERIODS_MAX:
        raise InputError(
            f"loan.decide pricing field 'default_n_periods' must be 1..{schedule.PERIODS_MAX}"
        )
    return p


def rate_of(pricing: dict, band: int) -> int:
    rates = pricing["rate_ppm_by_band"]
    return rates[band] if band < len(rates) else 0


def decide_row(
    card: cards.Scorecard,
    limit_params: dict,
    pricing: dict,
    values: list,
    app: dict,
    fraud_decision: int,
    fraud_status: int,
) -> tuple:
    """The reference for one application after its fraud step: the OFFERS fields from
    decision to status (without event_id and fraud_rules)."""
    total, band, score_decision, status, _missing_variables = score.score_row(card, values)
    limit_fen, _binding, limit_status = limit.limit_row(
        limit_params,
        band,
        app["monthly_income_fen"],
        app["monthly_debt_fen"],
        app["inquiries_30d"],
        app["product"],
    )
    status |= limit_status
    rate = rate_of(pricing, band)
    requested = app["amount_fen"]
    approved = installment = total_interest = 0
    if fraud_decision == fraud.REJECT:
        decision = DECLINE
    elif status & NEEDS_REFERRAL:
        decision = REFER
    elif score_decision != score.APPROVE or limit_fen == 0 or requested <= 0:
        decision = DECLINE
    else:
        n = app["n_periods"] or pricing["default_n_periods"]
        approved = min(requested, limit_fen)
        offer_status, rows, _paid, total_interest = schedule.schedule_loan(
            approved, rate, n, schedule.EQUAL_INSTALLMENT, 0
        )
        if offer_status:
            status |= offer_status
            decision, approved, total_interest = REFER, 0, 0
        else:
            installment = rows[0][1]
            decision = REFER if fraud_decision == fraud.REVIEW else APPROVE
    return (
        decision,
        total,
        band,
        limit_fen,
        approved,
        rate,
        installment,
        total_interest,
        status | fraud_status,
    )


# core instructions per application of one call, what _native.threads_worth splits by (bench/
# serial_share_model.json: 31,907,842 at scale 0.05 over 10,000 applications, less the
# fraud screen's own calls before it, then 1,306 per event; fraud.py now splits them by step)
INSTRUCTIONS_PER_APPLICATION = 1_884


PARAMETER_TABLES = ("scorecard", "limit_params", "pricing", "rules", "lists")


class _Parsed:
    """Every parameter table of one run, parsed once."""

    def __init__(self, inputs):
        self.card = cards.from_table(inputs["scorecard"])
        self.limit = limit.parse_params(inputs["limit_params"])
        self.pricing = parse_pricing(inputs["pricing"])
        self.rules = fraud.parse_rules(inputs["rules"])
        self.lists = fraud.parse_lists(inputs["lists"])

    @classmethod
    def of(cls, inputs) -> _Parsed:
        """The C engine's: parsed once for the same contents of the parameter tables
        (_tables.parsed_once), read only."""
        tables = tuple(inputs[name] for name in PARAMETER_TABLES)
        return _tables.parsed_once("loan.decide", tables, lambda: cls(inputs))


class CSession:
    """The C core's compiled parameters and output arrays for one applications table."""

    def __init__(self, inputs, parsed: _Parsed):
        apps = inputs["applications"]
        n = apps.num_rows
        self.cols = _tables.columns(apps, APPLICATIONS)
        self.card = score.compiled(parsed.card)
        # the arrays behind the pointers live as long as the session (and with them the
        # Arrow buffers they view): the caller's inputs may be gone before the first decide
        self.features = score.CFeatures(cards.feature_columns(parsed.card, apps))
        self.limit = limit.c_params(parsed.limit)
        self.params = ffi.new("bb_decide_params *")
        for band, rate in enumerate(parsed.pricing["rate_ppm_by_band"]):
            self.params.rate_ppm_by_band[band] = rate
        self.params.default_n_periods = parsed.pricing["default_n_periods"]
        self.income = _native.column_view(apps.column("monthly_income_fen"))
        self.inquiries = _native.column_view(apps.column("inquiries_30d"))
        self.apps = ffi.new("bb_applications *")
        self.apps.event = fraud.c_events(self.cols)[0]
        self.apps.features = self.features.c
        self.apps.limit = {
            "band": ffi.NULL,
            "monthly_income_fen": _native.pointer(self.income),
            "monthly_debt_fen": _native.pointer(self.cols["monthly_debt_fen"]),
            "inquiries_30d": _native.pointer(self.inquiries),
            "product": _native.pointer(self.cols["product"]),
        }
        self.apps.n_periods = _native.pointer(self.cols["n_periods"])
        # zeroed: an online session's undecided rows read 0
        self.out = _tables.output_columns(
            OFFERS, n, given={"event_id": self.cols["event_id"]}, zeroed=True
        )
        self.offers = ffi.new(
            "bb_offers *",
            {k: _native.out_pointer(v) for k, v in self.out.items() if k != "event_id"},
        )

    def table(self) -> pa.Table:
        return _tables.table(self.out, OFFERS)


class OnlineC:
    """One application per C call, the fraud state carried over (the latency path)."""

    def __init__(self, inputs):
        parsed = _Parsed(inputs)
        self.session = CSession(inputs, parsed)
        self.rules = fraud.c_rules(parsed.rules)
        self.lists, self._keep = fraud.c_lists(parsed.lists)
        self.state = fraud.FraudState(self.rules, self.lists, lib.BB_FAMILY_ALL)
        self.size = inputs["applications"].num_rows

    def decide(self, row: int) -> None:
        s = self.session
        rc = lib.bb_decide_one(
            self.state.c, self.rules, self.lists, s.card.c, s.limit, s.params, s.apps, row, s.offers
        )
        _native.check_status(rc, "bb_decide_one")

    def decide_many(self, begin: int, end: int) -> None:
        """Rows [begin, end) as one request (a micro-batch), in order, the state carried over."""
        if not 0 <= begin <= end <= self.size:
            raise InputError(f"loan.decide: rows [{begin}, {end}) outside [0, {self.size})")
        s = self.session
        rc = lib.bb_decide_many(
            self.state.c,
            self.rules,
            self.lists,
            s.card.c,
            s.limit,
            s.params,
            s.apps,
            begin,
            end,
            s.offers,
        )
        _native.check_status(rc, "bb_decide_many")

    def request(self) -> dict:
        """The session as C request arguments (a bb_decide_session's fields), for a service
        loop in C: the capacity benchmark's bb_decide_serve_shards."""
        s = self.session
        return {
            "fraud": self.state.c,
            "rules": self.rules,
            "lists": self.lists,
            "card": s.card.c,
            "limit": s.limit,
            "params": s.params,
            "apps": s.apps,
            "out": s.offers,
        }

    def outputs(self) -> _tables.Tables:
        return {"offers": self.session.table()}


class OnlinePython:
    """The reference, one application per call."""

    def __init__(self, inputs):
        self.parsed = _Parsed(inputs)
        self.reference = fraud.Reference(self.parsed.rules, self.parsed.lists)
        self.apps = inputs["applications"].to_pylist()
        self.features = [v.name for v in self.parsed.card.variables]
        self.rows: list[tuple] = []
        self.size = len(self.apps)

    def decide(self, row: int) -> None:
        app = self.apps[row]
        matched, fraud_status = self.reference.evaluate(app)
        fraud_decision = self.reference.decide(app["user_id"], matched, fraud_status)
        p = self.parsed
        fields = decide_row(
            p.card,
            p.limit,
            p.pricing,
            [app[f] for f in self.features],
            app,
            fraud_decision,
            fraud_status,
        )
        self.rows.append((app["event_id"], fields[0], matched, *fields[1:]))

    def outputs(self) -> _tables.Tables:
        return {"offers": _tables.from_rows(self.rows, OFFERS)}


class Decide(Workload):
    name = "loan.decide"
    title = "loan decisions"
    priced_as = "decisions"
    unit = "applications"
    engines = ("c", "python")
    c_sources = (
        "src/decide.c",
        "src/fraud.c",
        "src/barrier.c",  # the fraud call's groups meet before deciding
        "src/score.c",
        "src/limit.c",
        "src/schedule.c",
        "src/hashmap.c",
        "src/probe.c",  # bb_now_ns: the capacity service loop times each micro-batch
        "src/tables.c",
    )
    benchmarks = (
        Benchmark(BATCH, threaded=True),
        Benchmark(ONLINE),  # one application per call, each engine: the latency path
        # micro-batches of 1, 16, 256 applications per C request, one shard per thread
        Benchmark(CAPACITY, engines=("c",), threaded=True, batch_sizes=(1, 16, 256)),
    )
    input_schemas = {
        "applications": APPLICATIONS,
        "scorecard": {"json": pa.string()},
        "limit_params": {"json": pa.string()},
        "pricing": {"json": pa.string()},
        "rules": fraud.RULES,
        "lists": fraud.LISTS,
    }
    output_schemas = {"offers": OFFERS}

    def _generate(self, scale: float, seed: int) -> _tables.Tables:
        n = scaled(200_000, scale)
        users = max(8, n // 4)
        f = _applicants.features(n, seed, "decide")
        user = 1 + Stream(seed, "decide.user").bounded(n, users).astype(np.int64)
        shared = Stream(seed, "decide.shared_device").chance(n, 3, 100)
        device = np.where(
            shared,
            90_000_000
            + Stream(seed, "decide.device").bounded(n, max(1, n // 200)).astype(np.int64),
            50_000_000 + user,
        )
        phone = Stream(seed, "decide.phone").bounded(users + 1, 2**63)
        ts = np.sort(
            fraud.START_TS + Stream(seed, "decide.ts").bounded(n, fraud.HORIZON_S).astype(np.int64)
        )
        product = _applicants.products(n, seed, "decide")
        micro_n = Stream(seed, "decide.micro_n").choice(n, [5, 10, 20], [30, 50, 20])
        sme_n = Stream(seed, "decide.sme_n").choice(n, [12, 24], [50, 50])
        columns: dict[str, np.ndarray] = {
            "event_id": np.arange(1, n + 1, dtype=np.uint64),
            "ts": ts.astype(np.uint32),
            "type": np.full(n, fraud.DRAWDOWN, dtype=np.uint8),
            "user_id": user.astype(np.uint32),
            "device_id": device.astype(np.uint32),
            "ip24": (0x0A0000 + user % max(4, users // 8)).astype(np.uint32),
            "phone_hash": phone[user],
            "counterparty_id": np.zeros(n, dtype=np.uint32),
            "amount_fen": Stream(seed, "decide.requested").histogram(n, [(1, 500_00, 40_000_00)]),
            "monthly_debt_fen": _applicants.monthly_debt_fen(
                f["monthly_income_fen"], f["debt_to_income_bp"]
            ),
            "product": product,
            "n_periods": np.where(product == 1, sme_n, micro_n).astype(np.uint16),
        }
        columns.update({name: f[name] for name in _applicants.FEATURES})
        schema = {**APPLICATIONS, **_applicants.FEATURES}
        lists = [(fraud.BLOCKED_USER, int(u)) for u in np.unique(user[:: max(1, n // 50)])[:5]]
        return {
            "applications": _tables.table(columns, schema),
            "scorecard": cards.as_table(cards.default()),
            "limit_params": limit.params_table(),
            "pricing": pa.table({"json": [json.dumps(DEFAULT_PRICING)]}),
            "rules": fraud.rules_table(),
            "lists": _tables.from_rows(lists, fraud.LISTS),
        }

    def _validate_more(self, inputs) -> None:
        parsed = _Parsed(inputs)
        needed = {
            "monthly_income_fen": pa.int64(),
            "inquiries_30d": pa.int64(),
            **parsed.card.input_schema(),
        }
        _tables.validate(
            {"applications": inputs["applications"]}, {"applications": needed}, self.name
        )
        fraud.check_order(inputs["applications"])

    def _units(self, inputs) -> int:
        return inputs["applications"].num_rows

    def serve_shards(self, sessions, bounds, batch_size: int) -> np.ndarray:
        """Session i (an OnlineC) serves rows [bounds[i], bounds[i + 1]) in micro-batches of
        batch_size, one C request each, all sessions at once: the service loop is C on the
        pool's threads, one parallel call, each request timed by the core's clock (no Python
        between requests). The service times in ns, shard by shard."""
        shard_bounds = np.asarray(bounds, dtype=np.int64)
        requests = -(-np.diff(shard_bounds) // batch_size)  # micro-batches per shard
        took_first = np.concatenate([[0], np.cumsum(requests)[:-1]]).astype(np.int64)
        took = np.empty(int(requests.sum()), dtype=np.int64)
        arguments = ffi.new("bb_decide_session[]", [s.request() for s in sessions])
        task = ffi.new(
            "bb_decide_serve_task *",
            {
                "sessions": arguments,
                "bounds": _native.pointer(shard_bounds),
                "batch_size": batch_size,
                "took_first": _native.pointer(took_first),
                "took_ns": _native.out_pointer(took),
            },
        )
        _native.parallel_groups("bb_decide_serve_shards", task, len(sessions))
        return took

    def online(self, inputs, engine: str = "c"):
        """A session deciding one application per ``decide(row)`` call, rows in order."""
        if engine not in self.engines:
            self.run(inputs, engine=engine)  # raises the one unknown-engine error
        self.validate_inputs(inputs)
        return OnlineC(inputs) if engine == "c" else OnlinePython(inputs)

    def _run_python(self, inputs, threads: int) -> _tables.Tables:
        session = OnlinePython(inputs)
        for row in range(session.size):
            session.decide(row)
        return session.outputs()

    def _run_c(self, inputs, threads: int) -> _tables.Tables:
        parsed = _Parsed.of(inputs)
        session = CSession(inputs, parsed)
        matched, status, decision = fraud.evaluate_c(
            parsed.rules, parsed.lists, session.cols, threads
        )
        session.out["fraud_rules"][:] = matched
        decision_c, status_c = _native.pointer(decision), _native.pointer(status)

        task = ffi.new(
            "bb_decide_task *",
            {
                "card": session.card.c,
                "limit": session.limit,
                "params": session.params,
                "apps": session.apps,
                "fraud_decision": decision_c,
                "fraud_status": status_c,
                "out": session.offers,
            },
        )
        threads = _native.threads_worth(len(decision), INSTRUCTIONS_PER_APPLICATION, threads)
        _native.parallel_ranges("bb_decide_rows_task", task, len(decision), threads)
        return {"offers": session.table()}

    def _check(self, inputs, outputs) -> None:
        offers = outputs["offers"]
        apps = inputs["applications"]
        assert offers.num_rows == apps.num_rows, "one offer per application"
        decision = offers.column("decision").to_numpy()
        approved = offers.column("approved_fen").to_numpy()
        assert (approved <= offers.column("limit_fen").to_numpy()).all(), (
            "approved within the limit"
        )
        assert (approved <= np.maximum(apps.column("amount_fen").to_numpy(), 0)).all(), (
            "approved within the request"
        )
        assert (approved[decision == DECLINE] == 0).all(), "a decline approves nothing"
        assert (approved[decision == APPROVE] > 0).all(), "an approval lends something"
        assert (offers.column("installment_fen").to_numpy()[decision == APPROVE] > 0).all(), (
            "an approval carries an installment"
        )
