"""Ledger workloads: TigerBeetle-semantics posting, end-of-day loan servicing, SmallBank.
Registered through the entry point ``ledger`` in group ``bankbench.workloads``
(pyproject.toml), the same door a bank's own workloads come in by."""

from workloads.ledger.eod import Eod
from workloads.ledger.post import Post
from workloads.ledger.smallbank import SmallBank

WORKLOADS = (Post(), Eod(), SmallBank())
