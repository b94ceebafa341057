"""The catalog across departments as DCAT 3 JSON-LD.

One ``dcat:Catalog`` with an inline context (no remote fetch is needed to read it), one
``dcat:Dataset`` per dataset of any department and one ``dcat:Distribution`` per version, with
the ledger's own terms (content root, grade, metadata hash, freshness) under ``provledger:``.
Every URL it gives is one this node answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from node.audit.prov import PROVLEDGER_URI
from node.catalog.entries import Entry, VersionEntry

JsonLd = dict[str, object]
"""A JSON-LD node: its keys, and values of any JSON shape."""

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


def _date(seconds: int) -> dict[str, str]:
    return {"@value": datetime.fromtimestamp(seconds, timezone.utc).isoformat(), "@type": "xsd:dateTime"}


def _term(value: str, vocabulary: str) -> dict[str, str]:
    """A code of ``vocabulary`` (or a full IRI, kept) as a linked resource."""
    return {"@id": value if "://" in value else vocabulary + value}


def _distribution(url: str, version: VersionEntry, download: str | None) -> JsonLd:
    distribution: JsonLd = {
        "@type": "dcat:Distribution",
        "dcat:accessURL": {"@id": url},
        "dcat:byteSize": {"@value": version.size_bytes, "@type": "xsd:nonNegativeInteger"},
        "dcat:mediaType": {"@id": MEDIA_TYPES + version.media_type},
        # Not spdx:checksum: its sha256 is the digest of the bytes as downloaded, and this is the
        # root of a SHA-256 Merkle tree over the file's chunks (and a directory's files), the one
        # anchored on-chain, which a client checks with the node's Merkle proofs instead.
        "provledger:version": version.number,
        "provledger:contentRoot": version.content_root,
        "provledger:schemaHash": version.schema_hash,
        "provledger:recordCount": version.record_count,
        "provledger:fields": version.fields,
    }
    if version.format:
        distribution["dct:format"] = version.format
    if version.encoding:
        distribution["provledger:encoding"] = version.encoding
    if download is not None:
        distribution["dcat:downloadURL"] = {"@id": download}
    if version.anchored_at is not None:
        distribution["dct:issued"] = _date(version.anchored_at)
    return distribution


def _dataset_node(entry: Entry, base_url: str, downloadable: Callable[[Entry], bool]) -> JsonLd:
    url = f"{base_url}/catalog/{entry.dataset_id}"
    catalog = entry.catalog
    latest = entry.latest
    node: JsonLd = {
        "@id": url,
        "@type": "dcat:Dataset",
        "dct:identifier": entry.dataset_id,
        "dct:title": entry.name,
        "dct:publisher": {"@type": "foaf:Agent", "dct:identifier": entry.owner_department,
                          "foaf:name": entry.department_name},
        "dct:accessRights": {"@id": access_rights(entry.grade)},
        # Categories are the consortium's own codes, matching no shared theme vocabulary.
        "dcat:theme": {"@id": f"provledger:category/{entry.category}"},
        "dcat:landingPage": {"@id": url},
        "provledger:category": entry.category,
        "provledger:grade": entry.grade,
        "provledger:metadataHash": entry.metadata_hash,
        "provledger:verified": entry.verified,
        "provledger:freshness": entry.freshness.summary,
        "prov:wasDerivedFrom": [{"@id": f"{base_url}/catalog/{parent}"} for parent in entry.parents],
        # The open download serves the latest version only: the older ones have no download URL.
        "dcat:distribution": [_distribution(url, v, f"{base_url}/open/{entry.dataset_id}/content"
                                            if v is latest and downloadable(entry) else None)
                              for v in entry.versions],
    }
    if entry.description is not None:
        node["dct:description"] = entry.description
    if "keywords" in catalog:
        keywords = catalog["keywords"]
        node["dcat:keyword"] = [keywords] if isinstance(keywords, str) else list(keywords)
    if "license" in catalog:
        node["dct:license"] = _term(str(catalog["license"]), LICENSES)
    if "language" in catalog:
        node["dct:language"] = _term(str(catalog["language"]), LANGUAGES)
    if entry.registered_at is not None:
        node["dct:issued"] = _date(entry.registered_at)
    if latest is not None and latest.anchored_at is not None:
        node["dct:modified"] = _date(latest.anchored_at)
    if entry.update_interval:  # 0: no expected schedule
        # The exact interval, not a named dct:Frequency (DCAT's range, e.g. the EU frequency
        # list): the registry keeps seconds, which need not match any named frequency.
        node["dct:accrualPeriodicity"] = {"@value": iso_duration(entry.update_interval), "@type": "xsd:duration"}
    return node


def catalog_to_dcat(entries: Sequence[Entry], *, base_url: str,
                    downloadable: Callable[[Entry], bool] = lambda entry: False) -> JsonLd:
    """The catalog of ``entries`` (every department's) as DCAT 3 JSON-LD, each dataset at this
    node's ``{base_url}/catalog/{id}``; the latest version of those ``downloadable`` says this node
    serves gets a download URL (``{base_url}/open/{id}/content``).

    From the metadata's "catalog": "description", "keywords" (a list or one string), "license"
    (an SPDX id or an IRI) and "language" (an ISO 639-1 code or an IRI). Publishers are named as
    the chain names their department.
    """
    base = base_url.rstrip("/")
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/catalog/dcat",
        "@type": "dcat:Catalog",
        "dcat:dataset": [_dataset_node(entry, base, downloadable) for entry in entries],
    }
