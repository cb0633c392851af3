"""Ledger workloads: TigerBeetle-semantics posting, end-of-day loan servicing, SmallBank."""

from workloads.ledger.post import Post
from workloads.registry import register

for workload in (Post(),):
    register(workload)
