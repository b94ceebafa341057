"""A trace as W3C PROV, written straight to PROV-JSON.

Each trace item is one chain event and becomes one activity,
``chain:event/<tx_hash>/<log_index>``, carrying what verifying it against the chain needs (block
number and hash, transaction, log index, contract and its address, event name), its block time as
start and end, and the event's arguments as ``provledger:<argName>`` attributes. What an event is
about becomes entities (datasets, versions, grants, evidence, issues, statements, anchors) and
agents (departments, accounts) named only by on-chain keys in the ``chain`` namespace of the chain
id, so two exports of the same events say the same thing and exports of different traces merge.
``_RULES`` says, per event name, which entity the activity generates, uses or invalidates, which
account performed it and for which department; an event without a rule is still exported, as an
activity with its arguments.

Exports run to hundreds of thousands of events, so each record is made once and written as it is
made: an element is written the first time it is named and only its path kept (a version, whose
attributes may come later, stays open to the end), and the relations that many events repeat
(attribution, delegation, specialization, lineage, revision) are kept by their two ends;
everything else is one record per event. The document is written as PROV-JSON directly
(:mod:`node.audit.prov_json`, streamed: the activities as they come, the rest from temporary
files at the end), not built with the ``prov`` library, which checks and stores every attribute as
an object (some 150 µs per event); the tests read what this writes with ``prov`` and check it
record by record.
"""

from __future__ import annotations

import functools
import json
from json.encoder import encode_basestring
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from ledger.clients import Refusal, query_refusal_words
from node.audit.prov_json import Attributes, Document, Element, Namespace, QName, key_text, value_text
from node.audit.trace import REFUSED_QUERY, TraceItem, every_item
from node.chain.texts import texts

PROVLEDGER_URI = "https://provledger.example/ns#"
PROVLEDGER = Namespace("provledger", PROVLEDGER_URI)
PROV_TYPE = QName("prov:type")

# ---------------------------------------------------------------- the records of one export

_BLOCK_NUMBER, _BLOCK_HASH, _TX_HASH, _LOG_INDEX, _CONTRACT, _CONTRACT_ADDRESS, _EVENT, _REFUSED, _CONSUMER_AGENT = (
    PROVLEDGER[name] for name in ("blockNumber", "blockHash", "txHash", "logIndex", "contract", "contractAddress",
                                  "event", "refused", "consumerAgent")
)
_DATASET, _VERSION, _GRANT, _EVIDENCE, _ISSUE, _STATEMENT, _ANCHOR, _TRACE, _DEPARTMENT, _ACCOUNT = (
    PROVLEDGER[name] for name in ("Dataset", "DatasetVersion", "Grant", "Evidence", "QualityIssue", "Statement",
                                  "Anchor", "Trace", "Department", "Account")
)
_QUERY, _RESULT = PROVLEDGER["Query"], PROVLEDGER["QueryResult"]
_NAMED = 4096
_RESERVED = frozenset(("blockNumber", "blockHash", "txHash", "logIndex", "contract", "contractAddress", "event",
                       "refused", "consumerAgent"))
"""The activity's own attributes: an argument of one of these names is merged with it."""
_FIXED_NAMES = frozenset(("blockNumber", "blockHash", "txHash", "logIndex", "contract", "contractAddress", "event"))
_VERSION_ATTRIBUTES = {name: PROVLEDGER[name] for name in ("contentRoot", "schemaHash", "sizeBytes", "recordCount")}
_REFUSALS = {refusal.value: refusal.name.lower() for refusal in Refusal}
_SQL = PROVLEDGER["sql"]

Relation = Callable[[QName, QName], None]


@functools.cache
def _argument(name: str) -> QName:
    return PROVLEDGER[name]


@functools.cache
def _argument_key(name: str) -> str:
    return key_text(PROVLEDGER[name])


def _scalar(value: object) -> str | int:
    """An argument as a PROV literal: strings and integers as they are, anything else as JSON text."""
    return value if isinstance(value, (str, int)) else json.dumps(value, sort_keys=True, separators=(",", ":"))


class _Export:
    """One export in progress: the document, and what of it later events name again."""

    def __init__(self, chain_id: int) -> None:
        self.document = Document()
        self.document.add_namespace(PROVLEDGER)
        self.chain = self.document.add_namespace(Namespace("chain", f"urn:provledger:chain:{chain_id}:"))
        self._written: set[str] = set()
        """Elements written, by path: one per use (its evidence) is the most an export keeps."""
        self._named: dict[str, QName] = {}
        """The identifiers of elements named lately (a dataset, its grants, their accounts are
        named by most events), at most :data:`_NAMED`."""
        self._open: dict[str, tuple[QName, Element]] = {}
        self._relations: set[tuple[str, QName, QName]] = set()
        self.added_versions: set[tuple[str, int]] = set()
        self.issue_versions: dict[str, QName] = {}
        self._moment: tuple[int | None, str | None] = (None, None)
        self._texts: tuple[tuple[object, str], tuple[object, str], tuple[object, str]] = ((None, ""),) * 3
        self._agent: tuple[str | None, str] = (None, "")
        """The last consumer named and its ``consumerAgent`` attribute's text."""

    def _element(self, agent: bool, path: str, type_: QName, attributes: Attributes) -> QName:
        identifier = self._named.get(path)
        if identifier is not None:
            return identifier
        identifier = self.chain[path]
        if path not in self._written:
            self._written.add(path)
            (self.document.agent if agent else self.document.entity)(identifier, [(PROV_TYPE, type_), *attributes])
        if len(self._named) >= _NAMED:
            self._named.clear()
        self._named[path] = identifier
        return identifier

    def entity(self, kind: str, key: str, type_: QName, attributes: Attributes | None = None) -> QName:
        return self._element(False, f"{kind}/{key}", type_, attributes or [])

    def account(self, address: str) -> QName:
        return self._element(True, f"account/{address}", _ACCOUNT, [])

    def department(self, department_id: str) -> QName:
        return self._element(True, f"department/{department_id}", _DEPARTMENT, [])

    def version(self, dataset_id: str, number: int, attributes: Attributes | None = None) -> QName:
        # A version is the dataset as it stood once: PROV's specializationOf (an entity sharing
        # all aspects of a more general one, plus its own fixed content). hadMember would make the
        # dataset a prov:Collection whose versions are its parts, which they are not.
        # Its attributes come with VersionAdded, which may follow an event naming the version:
        # a version stays open to the end of the export.
        path = f"dataset/{dataset_id}/v{number}"
        known = self._open.get(path)
        if known is None:
            identifier = self.chain[path]
            self._open[path] = identifier, self.document.open_entity(identifier, [(PROV_TYPE, _VERSION),
                                                                                  *(attributes or [])])
        else:
            identifier = known[0]
            if attributes:
                known[1].add_attributes(attributes)
        self.once(self.document.specialization, identifier, self.entity("dataset", dataset_id, _DATASET))
        return identifier

    def once(self, relation: Relation, source: QName, target: QName) -> None:
        """Add a relation that other events may state again, the first time only."""
        key = (relation.__name__, source, target)
        if key not in self._relations:
            self._relations.add(key)
            relation(source, target)

    def _when(self, block_time: int | None) -> str | None:
        # The events of a block share its time: each moment is written once.
        if block_time != self._moment[0]:
            when = None if block_time is None else datetime.fromtimestamp(block_time, timezone.utc).isoformat()
            self._moment = (block_time, when)
        return self._moment[1]

    def _fixed(self, item: TraceItem) -> str:
        """The text of what verifying an event needs; the parts its block, transaction and
        contract share with the events before it are written once."""
        block, tx, contract = self._texts
        if block[0] != (item.block_number, item.block_hash):
            block = ((item.block_number, item.block_hash), f"{key_text(_BLOCK_NUMBER)}{value_text(item.block_number)},"
                                                           f"{key_text(_BLOCK_HASH)}{value_text(item.block_hash)},")
        if tx[0] != item.tx_hash:
            tx = (item.tx_hash, f"{key_text(_TX_HASH)}{value_text(item.tx_hash)},")
        if contract[0] != (item.contract, item.contract_address, item.name):
            contract = ((item.contract, item.contract_address, item.name),
                        f",{key_text(_CONTRACT)}{value_text(item.contract)},"
                        f"{key_text(_CONTRACT_ADDRESS)}{value_text(item.contract_address)},"
                        f"{key_text(_EVENT)}{value_text(item.name)}")
        self._texts = (block, tx, contract)
        return f"{block[1]}{tx[1]}{key_text(_LOG_INDEX)}{value_text(item.log_index)}{contract[1]}"

    def activity(self, item: TraceItem, rule: _Rule) -> QName:
        identifier = self.chain[f"event/{item.tx_hash}/{item.log_index}"]
        when = self._when(item.block_time)
        text = self._plain(item, rule)
        if text is not None:
            self.document.activity(identifier, when, [], text)
            return identifier
        # An argument with many values, or with the name of an attribute the activity has anyway:
        # attributes merged by name. What verifying the event needs goes straight where it can.
        distinct = _FIXED_NAMES.isdisjoint(item.args)
        attributes: Attributes = [] if distinct else [
            (_BLOCK_NUMBER, item.block_number), (_BLOCK_HASH, item.block_hash), (_TX_HASH, item.tx_hash),
            (_LOG_INDEX, item.log_index), (_CONTRACT, item.contract), (_CONTRACT_ADDRESS, item.contract_address),
            (_EVENT, item.name),
        ]
        for name, value in item.args.items():
            key = _argument(name)
            if isinstance(value, list):  # an array argument: PROV attributes take many values
                attributes.extend((key, _scalar(element)) for element in value)
            elif value is not None:
                attributes.append((key, _scalar(value)))
        attributes += self._own(item, rule)
        self.document.activity(identifier, when, attributes, self._fixed(item) if distinct else "")
        return identifier

    def _own(self, item: TraceItem, rule: _Rule) -> Attributes:
        """The attributes an activity has beyond the event's: why a use was refused, its consumer."""
        own: Attributes = []
        if rule.refusal is not None:
            reason = int(item.args[rule.refusal])
            own.append((_REFUSED, query_refusal_words(reason) if item.name == REFUSED_QUERY
                        else _REFUSALS.get(reason, str(reason))))
        if "queryHash" in item.texts:
            own.append((_SQL, item.texts["queryHash"]))
        if item.consumer:
            own.append((_CONSUMER_AGENT, self.account(item.consumer)))
        return own

    def _plain(self, item: TraceItem, rule: _Rule) -> str | None:
        """The activity's attributes as text, for an event whose arguments are single values named
        unlike the activity's own attributes (nearly every event); else None."""
        if not _RESERVED.isdisjoint(item.args):
            return None
        parts = [self._fixed(item)]
        for name, value in item.args.items():
            kind = type(value)
            if kind is str:
                parts.append(_argument_key(name) + encode_basestring(value))
            elif kind is int:
                parts.append(_argument_key(name) + value_text(value))
            elif kind is list:
                return None
            elif value is not None:
                parts.append(_argument_key(name) + value_text(_scalar(value)))
        if rule.refusal is None and item.consumer:  # nearly every event: its consumer, as the one before
            if self._agent[0] != item.consumer:
                self._agent = (item.consumer, key_text(_CONSUMER_AGENT) + value_text(self.account(item.consumer)))
            parts.append(self._agent[1])
        else:
            parts += (key_text(key) + value_text(value) for key, value in self._own(item, rule))
        return ",".join(parts)

    def add(self, item: TraceItem) -> None:
        rule = _RULES.get(item.name, _ARGUMENTS_ONLY)
        args = item.args
        activity = self.activity(item, rule)
        if rule.actor is not None and args.get(rule.actor):
            self.document.association(activity, self.account(args[rule.actor]))
        for account, department in rule.delegations:
            if args.get(account) and args.get(department):
                self.once(self.document.delegation, self.account(args[account]), self.department(args[department]))
        generated = rule.generates(self, item) if rule.generates is not None else None
        if generated is not None:
            self.document.generation(generated, activity)
        used = []
        for ref in rule.uses:  # every entity made before any is used: relations are numbered as made
            entity = ref(self, item)
            if entity is not None:
                used.append(entity)
        for entity in used:
            self.document.usage(activity, entity)
        invalidated = rule.invalidates(self, item) if rule.invalidates is not None else None
        if invalidated is not None:
            self.document.invalidation(invalidated, activity)
        owned = generated or (used[0] if used else None)
        if rule.owner is not None and owned is not None and args.get(rule.owner):
            self.once(self.document.attribution, owned, self.department(args[rule.owner]))


# ---------------------------------------------------------------- what each event is about

Ref = Callable[[_Export, TraceItem], "QName | None"]
"""The entity an event concerns, made if new; None when the event does not name it."""


@dataclass(frozen=True)
class _Rule:
    """How one event maps to PROV, beyond its activity. ``actor`` and ``owner`` name arguments:
    the account that performed the event, and the department the generated entity (or else the
    first used one) is attributed to; ``delegations`` pairs an account argument with the
    department argument it acts for; ``refusal`` is the argument giving why a use or a query was refused."""

    actor: str | None = None
    generates: Ref | None = None
    uses: tuple[Ref, ...] = ()
    invalidates: Ref | None = None
    owner: str | None = None
    delegations: tuple[tuple[str, str], ...] = ()
    refusal: str | None = None


def _keyed(kind: str, argument: str, type_: QName) -> Ref:
    def ref(export: _Export, item: TraceItem) -> QName:
        return export.entity(kind, item.args[argument], type_)
    return ref


def _dataset(export: _Export, item: TraceItem) -> QName | None:
    key = item.args.get("datasetId") or item.dataset_id
    return export.entity("dataset", key, _DATASET) if key else None


def _grant(export: _Export, item: TraceItem) -> QName | None:
    key = item.args.get("grantId") or item.grant_id
    return export.entity("grant", key, _GRANT) if key else None


def _registered(export: _Export, item: TraceItem) -> QName | None:
    """The dataset registered, derived from each of its parents (its declared lineage)."""
    dataset = _dataset(export, item)
    if dataset is not None:
        for parent in item.args.get("parents") or []:
            export.once(export.document.derivation, dataset, export.entity("dataset", parent, _DATASET))
    return dataset


def _added_version(export: _Export, item: TraceItem) -> QName:
    """The version added, a revision of the one before it when the trace added both."""
    dataset_id, number = item.args["datasetId"], int(item.args["version"])
    version = export.version(dataset_id, number, [(name, _scalar(item.args[arg]))
                                                   for arg, name in _VERSION_ATTRIBUTES.items() if arg in item.args])
    export.added_versions.add((dataset_id, number))
    for older, newer in ((number - 1, number), (number, number + 1)):
        if {(dataset_id, older), (dataset_id, newer)} <= export.added_versions:
            export.once(export.document.revision, export.version(dataset_id, newer), export.version(dataset_id, older))
    return version


def _version_in(argument: str) -> Ref:
    def ref(export: _Export, item: TraceItem) -> QName:
        return export.version(item.args["datasetId"], int(item.args[argument]))
    return ref


def _opened_version(export: _Export, item: TraceItem) -> QName:
    """The version an issue is opened against, kept for the issue's later events that do not name it."""
    version = export.version(item.args["datasetId"], int(item.args["version"]))
    export.issue_versions[item.args["issueId"]] = version
    return version


def _issue_version(export: _Export, item: TraceItem) -> QName | None:
    return export.issue_versions.get(item.args["issueId"])


_evidence = _keyed("evidence", "evidenceHash", _EVIDENCE)
_issue = _keyed("issue", "issueId", _ISSUE)
_statement = _keyed("statement", "statementId", _STATEMENT)
_ARGUMENTS_ONLY = _Rule()
_BY = _Rule(actor="by")
_ON_DATASET = _Rule(actor="by", uses=(_dataset,))
_REPAIR = _Rule(actor="by", uses=(_issue, _version_in("repairedVersion")))

_RULES: dict[str, _Rule] = {
    "DatasetRegistered": _Rule(actor="registrant", generates=_registered, owner="ownerDepartment",
                               delegations=(("registrant", "ownerDepartment"),)),
    "RightsSet": _Rule(actor="by", uses=(_dataset,), owner="ownershipHolder"),
    "MetadataUpdated": _ON_DATASET,
    "VersionAdded": _Rule(actor="by", generates=_added_version),
    "DatasetFrozen": _ON_DATASET,
    "DatasetUnfrozen": _ON_DATASET,
    "AccessRequested": _Rule(actor="grantee", generates=_grant, uses=(_dataset,)),
    "RequestApproved": _Rule(actor="reviewer", uses=(_grant,)),
    "RequestCoApproved": _Rule(actor="coordinator", uses=(_grant,)),
    "GrantActivated": _Rule(uses=(_grant,)),
    "RequestRejected": _Rule(actor="reviewer", uses=(_grant,), invalidates=_grant),
    "RequestWithdrawn": _Rule(actor="grantee", uses=(_grant,), invalidates=_grant),
    "GrantRevoked": _Rule(actor="by", uses=(_grant,), invalidates=_grant),
    "UseRecorded": _Rule(actor="actor", generates=_evidence, uses=(_dataset, _grant)),
    "UseRefused": _Rule(actor="actor", uses=(_grant,), refusal="reason"),
    "UsesBatchRecorded": _Rule(actor="actor"),
    # A query run at the owner's node under a query grant: its released result is generated from the
    # dataset and the normalised query (both by hash), under the grant (its use is the UseRecorded beside it).
    "QueryTermsRequested": _Rule(uses=(_grant,)),
    "QueryRecorded": _Rule(generates=_keyed("result", "resultHash", _RESULT),
                           uses=(_dataset, _grant, _keyed("query", "queryHash", _QUERY))),
    # A query the owner's node refused: an attempt under the grant, with the query by hash; nothing
    # of the dataset was used. Its consumer is the activity's consumerAgent, its reason in words.
    REFUSED_QUERY: _Rule(uses=(_grant, _keyed("query", "queryHash", _QUERY)), refusal="reason"),
    "StatementAcknowledged": _Rule(actor="party", uses=(_statement,), owner="ownerDepartment"),
    "StatementSettled": _Rule(uses=(_statement,)),
    "RootAnchored": _Rule(actor="by", generates=_keyed("anchor", "root", _ANCHOR), owner="department",
                          delegations=(("by", "department"),)),
    "IssueOpened": _Rule(actor="opener", generates=_issue, uses=(_opened_version,)),
    "IssueReturned": _Rule(actor="by", uses=(_issue, _issue_version)),
    "IssueRepaired": _REPAIR,
    "IssueClosed": _REPAIR,
    "IssueReopened": _Rule(actor="by", uses=(_issue, _version_in("rejectedVersion"))),
    "DepartmentAdmitted": _Rule(delegations=(("serviceAccount", "departmentId"), ("validator", "departmentId"))),
    "ServiceAccountAdded": _Rule(actor="by", delegations=(("account", "departmentId"),)),
    "ServiceAccountRemoved": _BY,
    "FoundingClosed": _BY,
    "ProposalOpened": _Rule(actor="proposer"),
    "ProposalVoted": _Rule(actor="voter", delegations=(("voter", "voterDepartment"),)),
    "ProposalExecuted": _BY,
    "ConsumerRegistered": _Rule(actor="by", delegations=(("by", "sponsor"),)),
    "ConsumerRemoved": _BY,
}


def trace_prov_chunks(items: Iterable[TraceItem], *, subject: str, chain_id: int,
                      chunk: int = 1 << 16) -> Iterator[str]:
    """The events of a trace as a PROV document in PROV-JSON, written as ``items`` are read, in
    pieces of about ``chunk`` characters, with a ``chain:trace/<subject>`` entity saying what the
    trace is of, on which chain, and how many events it holds. The text depends only on the
    events and their order, so exporting the same trace twice gives the same text."""
    export = _Export(chain_id)
    count = 0
    for count, item in enumerate(items, start=1):
        export.add(item)
        if export.document.pending >= chunk:
            yield export.document.take()
    export.entity("trace", subject, _TRACE, [(PROVLEDGER["subject"], subject), (PROVLEDGER["chainId"], chain_id),
                                             (PROVLEDGER["eventCount"], count)])
    yield from export.document.finish()


def trace_prov_json(items: Iterable[TraceItem], *, subject: str, chain_id: int) -> str:
    """:func:`trace_prov_chunks` as one text."""
    return "".join(trace_prov_chunks(items, subject=subject, chain_id=chain_id))


def dataset_prov(session: Session, addresses: Mapping[str, str], dataset_id: str, *, chain_id: int) -> Iterator[str]:
    """A dataset's whole trace as PROV-JSON, read from the index and written as it is read."""
    items = _refused_sql(session, every_item(session, "dataset", dataset_id.lower(), addresses))
    return trace_prov_chunks(items, subject=dataset_id.lower(), chain_id=chain_id)


def _refused_sql(session: Session, items: Iterable[TraceItem]) -> Iterator[TraceItem]:
    """``items`` with each refused query's SQL, where this node kept it (refusals are few: one
    read each, rather than every item's texts)."""
    for item in items:
        if item.name == REFUSED_QUERY:
            item.texts = {"queryHash": text for text in texts(session, [item.args["queryHash"]]).values()}
        yield item
