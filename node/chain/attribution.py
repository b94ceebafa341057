"""Whose an event is: the dataset, grant and consumer a trace files it under.

One rule, read by the indexer when it fills a row's ``dataset_id``, ``grant_id`` and
``consumer``, and by the completeness check when it decides which of the chain's logs belong
to a trace, so the two cannot drift apart:

- the event's own ``datasetId``, ``grantId`` and ``grantee`` (or ``consumer``) come first;
- a use refused because its caller may not use the grant (``CallerNotAllowed``) is the caller's
  attempt: it is filed under the caller (``actor``), never under the grant's grantee, whom it
  would otherwise blame; it stays in the grant's dataset;
- otherwise an event that names only a grant gets the grant's dataset and grantee, if the grant
  was requested before the event (a refusal of a grant id nobody had requested yet names no one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.clients import Refusal

GRANT_REQUESTED = "AccessRequested"
"""The event that creates a grant, naming its dataset and grantee."""
ATTEMPTS = frozenset({"UseRefused"})
"""Events that may record an attempt by someone other than the grantee (their ``actor``)."""
CONSUMER_FIELDS = ("grantee", "consumer")


@dataclass(frozen=True)
class GrantTerms:
    dataset_id: str
    grantee: str


@dataclass(frozen=True)
class Placement:
    dataset_id: str | None
    grant_id: str | None
    consumer: str | None


def callers_attempt(name: str, args: Mapping[str, Any]) -> bool:
    """Whether the event is a refusal of its caller, who may not use the grant at all."""
    return name in ATTEMPTS and int(args["reason"]) == Refusal.CALLER_NOT_ALLOWED


def place(name: str, args: Mapping[str, Any], grant: GrantTerms | None) -> Placement:
    """Where the event ``name`` with ``args`` is filed; ``grant`` is the event's grant as known
    at the event (None: no grant, or not requested yet)."""
    consumer = next((args[k] for k in CONSUMER_FIELDS if args.get(k)), None)
    if consumer is None and callers_attempt(name, args):
        consumer = args["actor"]
    dataset_id = args.get("datasetId")
    if grant is not None:
        dataset_id = dataset_id or grant.dataset_id
        consumer = consumer or grant.grantee
    return Placement(dataset_id, args.get("grantId"), consumer)
