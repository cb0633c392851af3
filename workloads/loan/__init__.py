"""Loan decisioning workloads: score, fraud, limit, schedule, and the end-to-end decide.
Registered through the entry point ``loan`` in group ``bankbench.workloads`` (pyproject.toml),
the same door a bank's own workloads come in by."""

from workloads.loan.decide import Decide
from workloads.loan.fraud import Fraud
from workloads.loan.limit import Limit
from workloads.loan.schedule import Schedule
from workloads.loan.score import Score

WORKLOADS = (Score(), Fraud(), Limit(), Schedule(), Decide())
