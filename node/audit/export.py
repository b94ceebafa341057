"""Exports for auditors and catalogs: a trace as W3C PROV, the catalog as DCAT 3 JSON-LD.

**PROV.** Each trace item is one chain event and becomes one activity,
``chain:event/<tx_hash>/<log_index>``, carrying what verifying it against the chain needs (block
number and hash, transaction, log index, contract and its address, event name), its block time as
start and end, and the event's arguments as ``provledger:<argName>`` attributes. What an event is
about becomes entities (datasets, versions, grants, evidence, issues, statements, anchors) and
agents (departments, accounts) named only by on-chain keys in the ``chain`` namespace of the chain
id, so two exports of the same events say the same thing and exports of different traces merge.
``_RULES`` says, per event name, which entity the activity generates, uses or invalidates, which
account performed it and for which department; an event without a rule is still exported, as an
activity with its arguments.

Exports run to hundreds of thousands of events, so each record is made once: elements are kept by
identifier, and the relations that many events repeat (attribution, delegation, specialization,
lineage, revision) by their two ends; everything else is one record per event.

**DCAT.** The node's catalog as one ``dcat:Catalog`` in JSON-LD with an inline context (no remote
fetch is needed to read it), one ``dcat:Dataset`` per dataset and one ``dcat:Distribution`` per
version, with the ledger's own terms (content root, grade, metadata hash) under ``provledger:``.
"""

from __future__ import annotations

import functools
import gc
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from prov.constants import PROV_TYPE
from prov.identifier import Namespace, QualifiedName
from prov.model import ProvDocument, ProvRecord

from ledger.clients import Refusal
from node.formats import format_of
from node.models import Dataset, DatasetVersion
from node.audit.trace import TraceItem

PROVLEDGER_URI = "https://provledger.example/ns#"
PROVLEDGER = Namespace("provledger", PROVLEDGER_URI)

# ---------------------------------------------------------------- PROV: the records of one export

_BLOCK_NUMBER, _BLOCK_HASH, _TX_HASH, _LOG_INDEX, _CONTRACT, _CONTRACT_ADDRESS, _EVENT, _REFUSED, _CONSUMER_AGENT = (
    PROVLEDGER[name] for name in ("blockNumber", "blockHash", "txHash", "logIndex", "contract", "contractAddress",
                                  "event", "refused", "consumerAgent")
)
_DATASET, _VERSION, _GRANT, _EVIDENCE, _ISSUE, _STATEMENT, _ANCHOR, _TRACE, _DEPARTMENT, _ACCOUNT = (
    PROVLEDGER[name] for name in ("Dataset", "DatasetVersion", "Grant", "Evidence", "QualityIssue", "Statement",
                                  "Anchor", "Trace", "Department", "Account")
)
_VERSION_ATTRIBUTES = {name: PROVLEDGER[name] for name in ("contentRoot", "schemaHash", "sizeBytes", "recordCount")}
_REFUSALS = {refusal.value: refusal.name.lower() for refusal in Refusal}

Attributes = list[tuple[QualifiedName, Any]]
Relation = Callable[[QualifiedName, QualifiedName], ProvRecord]


@functools.cache
def _argument(name: str) -> QualifiedName:
    return PROVLEDGER[name]


def _scalar(value: Any) -> Any:
    """An argument as a PROV literal: strings and integers as they are, anything else as JSON text."""
    return value if isinstance(value, (str, int)) else json.dumps(value, sort_keys=True, separators=(",", ":"))


class _JsonElement:
    """An element of a :class:`_JsonDocument`: its attributes, as PROV-JSON will show them."""

    __slots__ = ("attributes",)

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes

    def add_attributes(self, attributes: Attributes) -> None:
        for key, value in attributes:
            _put(self.attributes, str(key), _json_value(value))


_INT32, _INT64 = 1 << 31, 1 << 63


def _json_value(value: Any) -> Any:
    """A value as ``prov``'s PROV-JSON serializer writes it (ints typed by their size)."""
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        kind = "xsd:int" if -_INT32 <= value < _INT32 else "xsd:long" if -_INT64 <= value < _INT64 else "xsd:integer"
        return {"$": str(value), "type": kind}
    if isinstance(value, QualifiedName):
        return {"$": str(value), "type": "xsd:QName"}
    raise TypeError(f"no PROV-JSON form for {type(value).__name__}")


def _put(attributes: dict[str, Any], key: str, value: Any) -> None:
    """Add one value of an attribute; PROV attributes are sets of values."""
    if key not in attributes:
        attributes[key] = value
        return
    values = attributes[key] if isinstance(attributes[key], list) else [attributes[key]]
    if value not in values:
        attributes[key] = [*values, value]


class _JsonDocument:
    """The few ``ProvDocument`` methods an export calls, writing PROV-JSON directly.

    ``prov`` checks and stores every attribute as an object, which costs some 150 µs per event;
    this writes the same document (``ProvDocument.deserialize`` reads it back equal to the one
    ``prov`` builds, which the tests check) at a tenth of that, for exports of whole traces.
    """

    def __init__(self) -> None:
        self.prefixes: dict[str, str] = {}
        self.sections: dict[str, dict[str, Any]] = {}
        self._relations = 0

    def add_namespace(self, namespace: Namespace) -> Namespace:
        self.prefixes[namespace.prefix] = namespace.uri
        return namespace

    def _element(self, section: str, identifier: QualifiedName, attributes: Attributes,
                 fixed: dict[str, Any] | None = None) -> _JsonElement:
        element = _JsonElement(dict(fixed or {}))
        element.add_attributes(attributes)
        self.sections.setdefault(section, {})[str(identifier)] = element.attributes
        return element

    def entity(self, identifier: QualifiedName, attributes: Attributes) -> _JsonElement:
        return self._element("entity", identifier, attributes)

    def agent(self, identifier: QualifiedName, attributes: Attributes) -> _JsonElement:
        return self._element("agent", identifier, attributes)

    def activity(self, identifier: QualifiedName, start: datetime | None, end: datetime | None,
                 attributes: Attributes) -> _JsonElement:
        times = {} if start is None or end is None else {"prov:startTime": start.isoformat(),
                                                         "prov:endTime": end.isoformat()}
        return self._element("activity", identifier, attributes, times)

    def _relation(self, section: str, first: str, second: str, a: QualifiedName, b: QualifiedName,
                  **extra: Any) -> None:
        self._relations += 1
        self.sections.setdefault(section, {})[f"_:id{self._relations}"] = {first: str(a), second: str(b), **extra}

    def generation(self, entity: QualifiedName, activity: QualifiedName) -> None:
        self._relation("wasGeneratedBy", "prov:entity", "prov:activity", entity, activity)

    def usage(self, activity: QualifiedName, entity: QualifiedName) -> None:
        self._relation("used", "prov:activity", "prov:entity", activity, entity)

    def invalidation(self, entity: QualifiedName, activity: QualifiedName) -> None:
        self._relation("wasInvalidatedBy", "prov:entity", "prov:activity", entity, activity)

    def association(self, activity: QualifiedName, agent: QualifiedName) -> None:
        self._relation("wasAssociatedWith", "prov:activity", "prov:agent", activity, agent)

    def attribution(self, entity: QualifiedName, agent: QualifiedName) -> None:
        self._relation("wasAttributedTo", "prov:entity", "prov:agent", entity, agent)

    def delegation(self, delegate: QualifiedName, responsible: QualifiedName) -> None:
        self._relation("actedOnBehalfOf", "prov:delegate", "prov:responsible", delegate, responsible)

    def specialization(self, specific: QualifiedName, general: QualifiedName) -> None:
        self._relation("specializationOf", "prov:specificEntity", "prov:generalEntity", specific, general)

    def derivation(self, generated: QualifiedName, used: QualifiedName) -> None:
        self._relation("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity", generated, used)

    def revision(self, generated: QualifiedName, used: QualifiedName) -> None:
        self._relation("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity", generated, used,
                       **{"prov:type": {"$": "prov:Revision", "type": "xsd:QName"}})

    def serialize(self) -> str:
        return json.dumps({"prefix": self.prefixes, **self.sections}, ensure_ascii=False, separators=(",", ":"),
                          check_circular=False)


class _Export:
    """One export in progress: the document and the records already in it."""

    def __init__(self, chain_id: int, document: Any = None) -> None:
        self.document = document if document is not None else ProvDocument()
        self.document.add_namespace(PROVLEDGER)
        self.chain = self.document.add_namespace(Namespace("chain", f"urn:provledger:chain:{chain_id}:"))
        self._elements: dict[str, tuple[QualifiedName, Any]] = {}
        self._relations: set[tuple[str, QualifiedName, QualifiedName]] = set()
        self.added_versions: set[tuple[str, int]] = set()
        self.issue_versions: dict[str, QualifiedName] = {}

    def _element(self, agent: bool, path: str, type_: QualifiedName, attributes: Attributes) -> QualifiedName:
        known = self._elements.get(path)
        if known is None:
            identifier = self.chain[path]
            make = self.document.agent if agent else self.document.entity
            self._elements[path] = identifier, make(identifier, [(PROV_TYPE, type_), *attributes])
            return identifier
        if attributes:
            known[1].add_attributes(attributes)
        return known[0]

    def entity(self, kind: str, key: str, type_: QualifiedName, attributes: Attributes | None = None) -> QualifiedName:
        return self._element(False, f"{kind}/{key}", type_, attributes or [])

    def account(self, address: str) -> QualifiedName:
        return self._element(True, f"account/{address}", _ACCOUNT, [])

    def department(self, department_id: str) -> QualifiedName:
        return self._element(True, f"department/{department_id}", _DEPARTMENT, [])

    def version(self, dataset_id: str, number: int, attributes: Attributes | None = None) -> QualifiedName:
        # A version is the dataset as it stood once: PROV's specializationOf (an entity sharing
        # all aspects of a more general one, plus its own fixed content). hadMember would make the
        # dataset a prov:Collection whose versions are its parts, which they are not.
        version = self.entity("dataset", f"{dataset_id}/v{number}", _VERSION, attributes)
        self.once(self.document.specialization, version, self.entity("dataset", dataset_id, _DATASET))
        return version

    def once(self, relation: Relation, source: QualifiedName, target: QualifiedName) -> None:
        """Add a relation that other events may state again, the first time only."""
        key = (relation.__name__, source, target)
        if key not in self._relations:
            self._relations.add(key)
            relation(source, target)

    def activity(self, item: TraceItem, rule: _Rule) -> QualifiedName:
        attributes: Attributes = [
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
        if rule.refusal is not None:
            reason = int(item.args[rule.refusal])
            attributes.append((_REFUSED, _REFUSALS.get(reason, str(reason))))
        if item.consumer:
            attributes.append((_CONSUMER_AGENT, self.account(item.consumer)))
        when = datetime.fromtimestamp(item.block_time, timezone.utc) if item.block_time is not None else None
        identifier = self.chain[f"event/{item.tx_hash}/{item.log_index}"]
        self.document.activity(identifier, when, when, attributes)
        return identifier

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
        used = [entity for entity in (ref(self, item) for ref in rule.uses) if entity is not None]
        for entity in used:
            self.document.usage(activity, entity)
        invalidated = rule.invalidates(self, item) if rule.invalidates is not None else None
        if invalidated is not None:
            self.document.invalidation(invalidated, activity)
        owned = generated or (used[0] if used else None)
        if rule.owner is not None and owned is not None and args.get(rule.owner):
            self.once(self.document.attribution, owned, self.department(args[rule.owner]))


# ---------------------------------------------------------------- PROV: what each event is about

Ref = Callable[[_Export, TraceItem], "QualifiedName | None"]
"""The entity an event concerns, made if new; None when the event does not name it."""


@dataclass(frozen=True)
class _Rule:
    """How one event maps to PROV, beyond its activity. ``actor`` and ``owner`` name arguments:
    the account that performed the event, and the department the generated entity (or else the
    first used one) is attributed to; ``delegations`` pairs an account argument with the
    department argument it acts for; ``refusal`` is the argument giving why a use was refused."""

    actor: str | None = None
    generates: Ref | None = None
    uses: tuple[Ref, ...] = ()
    invalidates: Ref | None = None
    owner: str | None = None
    delegations: tuple[tuple[str, str], ...] = ()
    refusal: str | None = None


def _keyed(kind: str, argument: str, type_: QualifiedName) -> Ref:
    def ref(export: _Export, item: TraceItem) -> QualifiedName:
        return export.entity(kind, item.args[argument], type_)
    return ref


def _dataset(export: _Export, item: TraceItem) -> QualifiedName | None:
    key = item.args.get("datasetId") or item.dataset_id
    return export.entity("dataset", key, _DATASET) if key else None


def _grant(export: _Export, item: TraceItem) -> QualifiedName | None:
    key = item.args.get("grantId") or item.grant_id
    return export.entity("grant", key, _GRANT) if key else None


def _registered(export: _Export, item: TraceItem) -> QualifiedName | None:
    """The dataset registered, derived from each of its parents (its declared lineage)."""
    dataset = _dataset(export, item)
    if dataset is not None:
        for parent in item.args.get("parents") or []:
            export.once(export.document.derivation, dataset, export.entity("dataset", parent, _DATASET))
    return dataset


def _added_version(export: _Export, item: TraceItem) -> QualifiedName:
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
    def ref(export: _Export, item: TraceItem) -> QualifiedName:
        return export.version(item.args["datasetId"], int(item.args[argument]))
    return ref


def _opened_version(export: _Export, item: TraceItem) -> QualifiedName:
    """The version an issue is opened against, kept for the issue's later events that do not name it."""
    version = export.version(item.args["datasetId"], int(item.args["version"]))
    export.issue_versions[item.args["issueId"]] = version
    return version


def _issue_version(export: _Export, item: TraceItem) -> QualifiedName | None:
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


def _export(items: Iterable[TraceItem], subject: str, chain_id: int, document: Any = None) -> Any:
    export = _Export(chain_id, document)
    count = 0
    for count, item in enumerate(items, start=1):
        export.add(item)
    export.entity("trace", subject, _TRACE, [(PROVLEDGER["subject"], subject), (PROVLEDGER["chainId"], chain_id),
                                             (PROVLEDGER["eventCount"], count)])
    return export.document


def trace_to_prov(items: Iterable[TraceItem], *, subject: str, chain_id: int) -> ProvDocument:
    """The events of a trace as a PROV document, with a ``chain:trace/<subject>`` entity saying
    what the trace is of, on which chain, and how many events it holds."""
    document: ProvDocument = _export(items, subject, chain_id)
    return document


def trace_prov_json(items: Iterable[TraceItem], *, subject: str, chain_id: int) -> str:
    """The same document as :func:`trace_to_prov`, written straight to PROV-JSON: for whole traces.

    The export makes millions of small objects that all live to the end, so the cyclic garbage
    collector, which would scan them again and again, is paused while it runs."""
    paused = gc.isenabled()
    gc.disable()
    try:
        document: _JsonDocument = _export(items, subject, chain_id, _JsonDocument())
        return document.serialize()
    finally:
        if paused:
            gc.enable()


def prov_json(document: ProvDocument) -> str:
    """The document as PROV-JSON. The text depends only on the records and the order they were
    added in, so exporting the same trace twice gives the same text."""
    buffer = io.StringIO()
    document.serialize(buffer, format="json")
    return buffer.getvalue()


# ---------------------------------------------------------------- DCAT

DCAT_CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "prov": "http://www.w3.org/ns/prov#",
    "provledger": PROVLEDGER_URI,
}
ACCESS_RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"
LICENSES = "http://spdx.org/licenses/"
LANGUAGES = "http://id.loc.gov/vocabulary/iso639-1/"
MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


def access_rights(grade: int) -> str:
    """Grade 1 is open data; 2 and 3 are shared under a grant; 4 only under co-approval."""
    return ACCESS_RIGHTS + ("PUBLIC" if grade <= 1 else "RESTRICTED" if grade <= 3 else "NON_PUBLIC")


def iso_duration(seconds: int) -> str:
    """``seconds`` as an ISO 8601 duration in days, hours, minutes and seconds (86400 -> P1D)."""
    if not seconds:
        return "PT0S"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (rest, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _date(value: datetime) -> dict[str, str]:
    # SQLite gives back naive datetimes; the node writes them in UTC.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return {"@value": aware.isoformat(), "@type": "xsd:dateTime"}


def _term(value: str, vocabulary: str) -> dict[str, str]:
    """A code of ``vocabulary`` (or a full IRI, kept) as a linked resource."""
    return {"@id": value if "://" in value else vocabulary + value}


def _distribution(url: str, version: DatasetVersion) -> dict[str, Any]:
    media_type = tabular.media_type if (tabular := format_of(version.source_path)) else "application/octet-stream"
    distribution: dict[str, Any] = {
        "@type": "dcat:Distribution",
        "dcat:accessURL": {"@id": url},
        "dcat:byteSize": {"@value": version.size_bytes, "@type": "xsd:nonNegativeInteger"},
        "dcat:mediaType": {"@id": MEDIA_TYPES + media_type},
        # Not spdx:checksum: its sha256 is the digest of the bytes as downloaded, and this is the
        # root of a SHA-256 Merkle tree over the file's chunks (and a directory's files), the one
        # anchored on-chain, which a client checks with the node's Merkle proofs instead.
        "provledger:contentRoot": version.content_root,
        "provledger:schemaHash": version.schema_hash,
        "provledger:recordCount": version.record_count,
    }
    if version.created_at is not None:
        distribution["dct:issued"] = _date(version.created_at)
    return distribution


def _dataset_node(dataset: Dataset, base_url: str, publisher_names: Mapping[str, str]) -> dict[str, Any]:
    url = f"{base_url}/datasets/{dataset.dataset_id}"
    catalog = dataset.catalog or {}
    node: dict[str, Any] = {
        "@id": url,
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.dataset_id,
        "dct:title": dataset.name,
        "dct:publisher": {"@type": "foaf:Agent", "dct:identifier": dataset.owner_department,
                          "foaf:name": publisher_names.get(dataset.owner_department, dataset.owner_department)},
        "dct:accessRights": {"@id": access_rights(dataset.grade)},
        # Categories are the consortium's own codes, matching no shared theme vocabulary.
        "dcat:theme": {"@id": f"provledger:category/{dataset.category}"},
        "provledger:category": dataset.category,
        "provledger:grade": dataset.grade,
        "provledger:metadataHash": dataset.metadata_hash,
        "prov:wasDerivedFrom": [{"@id": f"{base_url}/datasets/{parent}"} for parent in dataset.parents or []],
        "dcat:distribution": [_distribution(f"{url}/versions/{n}", version)
                              for n, version in enumerate(dataset.versions, start=1)],
    }
    if "description" in catalog:
        node["dct:description"] = catalog["description"]
    if "keywords" in catalog:
        keywords = catalog["keywords"]
        node["dcat:keyword"] = [keywords] if isinstance(keywords, str) else list(keywords)
    if "license" in catalog:
        node["dct:license"] = _term(catalog["license"], LICENSES)
    if "language" in catalog:
        node["dct:language"] = _term(catalog["language"], LANGUAGES)
    if dataset.created_at is not None:
        node["dct:issued"] = _date(dataset.created_at)
    if dataset.versions and dataset.versions[-1].created_at is not None:
        node["dct:modified"] = _date(dataset.versions[-1].created_at)
    if dataset.update_interval:  # 0: no expected schedule
        # The exact interval, not a named dct:Frequency (DCAT's range, e.g. the EU frequency
        # list): the registry keeps seconds, which need not match any named frequency.
        node["dct:accrualPeriodicity"] = {"@value": iso_duration(dataset.update_interval), "@type": "xsd:duration"}
    return node


def catalog_to_dcat(datasets: Sequence[Dataset], *, base_url: str,
                    publisher_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The catalog of ``datasets`` as DCAT 3 JSON-LD, datasets at ``{base_url}/datasets/{id}``.

    From ``Dataset.catalog``: "description", "keywords" (a list or one string), "license" (an
    SPDX id or an IRI) and "language" (an ISO 639-1 code or an IRI). Publishers are named by
    ``publisher_names`` (department code to name), else by their code.
    """
    base = base_url.rstrip("/")
    names = publisher_names or {}
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/catalog",
        "@type": "dcat:Catalog",
        "dcat:dataset": [_dataset_node(dataset, base, names) for dataset in datasets],
    }
