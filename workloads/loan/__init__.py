"""Loan decisioning workloads: score, fraud, limit, schedule, and the end-to-end decide."""

from workloads.loan.decide import Decide
from workloads.loan.fraud import Fraud
from workloads.loan.limit import Limit
from workloads.loan.schedule import Schedule
from workloads.loan.score import Score
from workloads.registry import register

for workload in (Score(), Fraud(), Limit(), Schedule(), Decide()):
    register(workload)
