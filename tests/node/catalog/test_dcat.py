"""The catalog as DCAT 3 JSON-LD."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from node.catalog.dcat import catalog_to_dcat, iso_duration
from node.catalog.entries import Entry, VersionEntry
from node.catalog.freshness import freshness

PL = "https://provledger.example/ns#"
BASE_URL = "https://node.stats.example"
EU_ACCESS_RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"


def _h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


DATASET, PARENT = _h("dataset"), _h("parent dataset")


CREATED = int(datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc).timestamp())
MONTH = 31 * 86400
MEDIA = [("csv", "text/csv"), ("jsonl", "application/x-ndjson"), (None, "application/octet-stream")]


def _dataset(grade: int = 2, *, versions: int = 2, update_interval: int = 86400,
             catalog: dict[str, Any] | None = None, department_name: str = "Statistics Bureau") -> Entry:
    shown = [VersionEntry(
        number=n + 1, content_root=_h(f"root {n}"), schema_hash=_h("schema"), size_bytes=1024 * n,
        record_count=10 * n, anchored_at=CREATED + MONTH * (n + 1), fields=["district", "count"],
        format=MEDIA[n % 3][0], media_type=MEDIA[n % 3][1], encoding=None, verified=True) for n in range(versions)]
    last = shown[-1].anchored_at if shown else None
    return Entry(
        dataset_id=DATASET, owner_department="stats-bureau", owner_department_id="0x" + b"stats-bureau".ljust(32, b"\0").hex(),
        department_name=department_name, category="economy", grade=grade, update_interval=update_interval,
        metadata_hash=_h("metadata"), registered_at=CREATED, parents=[PARENT], frozen=False, verified=True,
        checked_on_chain=True, versions=shown, freshness=freshness(last, update_interval, CREATED + 3 * MONTH),
        metadata={"name": "Enterprise registrations", "catalog": {
            "description": "Every enterprise registered, by month", "keywords": ["enterprise", "registry"],
            "license": "CC-BY-4.0", "language": "zh"} if catalog is None else catalog},
    )


def test_catalog_is_json_ld_with_an_inline_context() -> None:
    catalog = catalog_to_dcat([_dataset()], base_url=BASE_URL + "/")

    json.dumps(catalog)
    assert set(catalog["@context"]) >= {"dcat", "dct", "foaf", "xsd", "provledger"}
    assert catalog["@type"] == "dcat:Catalog"
    (dataset,) = catalog["dcat:dataset"]
    assert dataset["@id"] == f"{BASE_URL}/catalog/{DATASET}"
    assert dataset["dct:identifier"] == DATASET
    assert dataset["dct:title"] == "Enterprise registrations"
    assert dataset["dct:description"] == "Every enterprise registered, by month"
    assert dataset["dcat:keyword"] == ["enterprise", "registry"]
    assert dataset["dct:license"] == {"@id": "http://spdx.org/licenses/CC-BY-4.0"}
    assert dataset["dct:language"] == {"@id": "http://id.loc.gov/vocabulary/iso639-1/zh"}
    assert dataset["dct:publisher"]["foaf:name"] == "Statistics Bureau"
    assert dataset["dct:issued"] == {"@value": "2024-03-01T08:00:00+00:00", "@type": "xsd:dateTime"}
    assert dataset["dct:modified"]["@value"] == "2024-05-02T08:00:00+00:00"
    assert dataset["prov:wasDerivedFrom"] == [{"@id": f"{BASE_URL}/catalog/{PARENT}"}]
    assert dataset["provledger:freshness"] == "late by 30 days"
    assert dataset["provledger:category"] == "economy"
    assert dataset["provledger:metadataHash"] == _h("metadata")


def test_missing_catalog_fields_and_publisher_names_are_left_out_or_fall_back() -> None:
    bare = _dataset(catalog={}, versions=0, update_interval=0, department_name="stats-bureau")

    (dataset,) = catalog_to_dcat([bare], base_url=BASE_URL)["dcat:dataset"]

    assert not {"dct:description", "dcat:keyword", "dct:license", "dct:language", "dct:modified",
                "dct:accrualPeriodicity"} & set(dataset)
    assert dataset["dcat:distribution"] == []
    assert dataset["dct:publisher"]["foaf:name"] == "stats-bureau"
    assert dataset["provledger:freshness"] == "no version yet"


@pytest.mark.parametrize(("grade", "rights"), [(1, "PUBLIC"), (2, "RESTRICTED"), (3, "RESTRICTED"), (4, "NON_PUBLIC")])
def test_access_rights_follow_the_grade(grade: int, rights: str) -> None:
    (dataset,) = catalog_to_dcat([_dataset(grade)], base_url=BASE_URL)["dcat:dataset"]

    assert dataset["dct:accessRights"] == {"@id": EU_ACCESS_RIGHTS + rights}
    assert dataset["provledger:grade"] == grade


def test_each_version_is_a_distribution_reached_at_the_dataset_s_entry() -> None:
    (dataset,) = catalog_to_dcat([_dataset(versions=3)], base_url=BASE_URL)["dcat:dataset"]

    distributions = dataset["dcat:distribution"]
    assert [d["dcat:accessURL"]["@id"] for d in distributions] == [f"{BASE_URL}/catalog/{DATASET}"] * 3
    assert [d["provledger:version"] for d in distributions] == [1, 2, 3]
    assert not any("dcat:downloadURL" in d for d in distributions)
    assert [d["dcat:mediaType"]["@id"].rsplit("/", 2)[-2:] for d in distributions] == [
        ["text", "csv"], ["application", "x-ndjson"], ["application", "octet-stream"]]
    assert [d["dcat:byteSize"]["@value"] for d in distributions] == [0, 1024, 2048]
    assert [d["provledger:contentRoot"] for d in distributions] == [_h(f"root {n}") for n in range(3)]
    assert [d["provledger:recordCount"] for d in distributions] == [0, 10, 20]


def test_only_the_latest_version_of_what_the_node_serves_gets_a_download_url() -> None:
    (dataset,) = catalog_to_dcat([_dataset(1, versions=3)], base_url=BASE_URL,
                                 downloadable=lambda e: e.dataset_id == DATASET)["dcat:dataset"]

    assert [d.get("dcat:downloadURL") for d in dataset["dcat:distribution"]] == [
        None, None, {"@id": f"{BASE_URL}/open/{DATASET}/content"}]


@pytest.mark.parametrize(("seconds", "duration"), [
    (86400, "P1D"), (3600, "PT1H"), (604800, "P7D"), (90061, "P1DT1H1M1S"), (45, "PT45S"), (0, "PT0S")])
def test_update_intervals_are_iso_durations(seconds: int, duration: str) -> None:
    assert iso_duration(seconds) == duration


def test_periodicity_is_an_xsd_duration() -> None:
    (dataset,) = catalog_to_dcat([_dataset(update_interval=604800)], base_url=BASE_URL)["dcat:dataset"]

    assert dataset["dct:accrualPeriodicity"] == {"@value": "P7D", "@type": "xsd:duration"}


def test_catalog_expands_as_json_ld_without_fetching_anything() -> None:
    jsonld = pytest.importorskip("pyld.jsonld")

    def refuse(url: str, options: dict[str, Any]) -> None:
        raise AssertionError(f"fetched {url}")

    catalog = catalog_to_dcat([_dataset(1)], base_url=BASE_URL)
    (dataset,) = [node for node in jsonld.expand(catalog, {"documentLoader": refuse})[0][
        "http://www.w3.org/ns/dcat#dataset"]]

    assert dataset["@type"] == ["http://www.w3.org/ns/dcat#Dataset"]
    assert dataset["http://purl.org/dc/terms/accessRights"] == [
        {"@id": EU_ACCESS_RIGHTS + "PUBLIC"}]
    assert dataset["http://purl.org/dc/terms/accrualPeriodicity"] == [
        {"@value": "P1D", "@type": "http://www.w3.org/2001/XMLSchema#duration"}]
    assert len(dataset["http://www.w3.org/ns/dcat#distribution"]) == 2
    assert dataset["http://www.w3.org/ns/dcat#theme"] == [{"@id": PL + "category/economy"}]
