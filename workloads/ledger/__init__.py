"""Ledger workloads: TigerBeetle-semantics posting, end-of-day loan servicing, SmallBank."""

from workloads.ledger.eod import Eod
from workloads.ledger.post import Post
from workloads.ledger.smallbank import SmallBank
from workloads.registry import register

for workload in (Post(), Eod(), SmallBank()):
    register(workload)
