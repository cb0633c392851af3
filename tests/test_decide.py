"""loan.decide: composition of the kernels, batch vs online, bad rows."""

import numpy as np
import pyarrow as pa
import pytest

from workloads import registry
from workloads.loan import decide, fraud, schedule, score

W = registry.get("loan.decide")


@pytest.fixture(scope="module")
def inputs():
    return W.generate(scale=0.005, seed=21)


def test_offers_compose_the_kernels(inputs):
    out = W.run(inputs, engine="c", threads=2)["offers"]
    W.check(inputs, {"offers": out})
    scores = registry.get("loan.score").run(
        {
            "applicants": inputs["applications"].append_column(
                "applicant_id", inputs["applications"].column("event_id")
            ),
            "scorecard": inputs["scorecard"],
        },
        engine="c",
    )["scores"]
    assert out.column("score").equals(scores.column("score")), "the same scorecard kernel"
    approved = out.filter(pa.compute.equal(out.column("decision"), decide.APPROVE)).to_pylist()
    assert approved, "some applications are approved"
    for offer in approved[:50]:
        status, rows, _, interest = schedule.schedule_loan(
            offer["approved_fen"], offer["rate_ppm"], _n(inputs, offer["event_id"]), 1, 0
        )
        assert (
            status == 0
            and rows[0][1] == offer["installment_fen"]
            and interest == offer["total_interest_fen"]
        )


def _n(inputs, event_id):
    return inputs["applications"].column("n_periods")[event_id - 1].as_py()


def test_decision_counts_are_plausible(inputs):
    decisions = np.bincount(
        W.run(inputs, engine="c")["offers"].column("decision").to_numpy(), minlength=3
    )
    assert decisions.min() > 0, decisions  # some of each: decline, approve, refer


def test_bad_rows_refer_or_decline_without_crashing(inputs):
    apps = inputs["applications"]
    income = apps.column("monthly_income_fen").to_numpy().copy()
    amount = apps.column("amount_fen").to_numpy().copy()
    n = apps.column("n_periods").to_numpy().copy()
    income[0] = -1  # invalid input → refer
    amount[1] = -100  # negative request → fraud status invalid → decline
    n[2:] = 999  # no schedule can be offered → refer for approvable rows
    apps = apps.set_column(
        apps.column_names.index("monthly_income_fen"), "monthly_income_fen", pa.array(income)
    )
    apps = apps.set_column(apps.column_names.index("amount_fen"), "amount_fen", pa.array(amount))
    apps = apps.set_column(
        apps.column_names.index("n_periods"), "n_periods", pa.array(n, pa.uint16())
    )
    bad = {**inputs, "applications": apps}
    outs = {e: W.run(bad, engine=e) for e in W.engines}
    assert W.digest(outs["c"]) == W.digest(outs["python"])
    offers = outs["c"]["offers"].to_pylist()
    assert offers[0]["decision"] == decide.REFER and offers[0]["status"] & schedule.STATUS_INVALID
    assert offers[1]["decision"] == decide.DECLINE and offers[1]["status"] & fraud.STATUS_INVALID
    assert all(o["decision"] != decide.APPROVE for o in offers[2:])
    assert score.APPROVE == decide.APPROVE


def test_online_session_rejects_unknown_engine(inputs):
    from workloads.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="valid|has: c, python"):
        W.online(inputs, "numpy")
