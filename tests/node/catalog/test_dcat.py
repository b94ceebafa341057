"""The catalog as DCAT 3 JSON-LD."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from node.catalog.dcat import catalog_to_dcat, iso_duration
from node.models import Dataset, DatasetVersion

PL = "https://provledger.example/ns#"
BASE_URL = "https://node.stats.example"
EU_ACCESS_RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"


def _h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


DATASET, PARENT = _h("dataset"), _h("parent dataset")


def _dataset(grade: int = 2, *, versions: int = 2, **overrides: Any) -> Dataset:
    created = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
    fields: dict[str, Any] = {
        "dataset_id": DATASET, "name": "Enterprise registrations", "owner_department": "stats-bureau",
        "category": "economy", "grade": grade, "update_interval": 86400, "metadata_hash": _h("metadata"),
        "catalog": {"description": "Every enterprise registered, by month", "keywords": ["enterprise", "registry"],
                    "license": "CC-BY-4.0", "language": "zh"},
        "parents": [PARENT], "created_at": created,
    }
    dataset = Dataset(**{**fields, **overrides})
    suffixes = [".csv", ".ndjson", ".parquet"]
    dataset.versions = [DatasetVersion(
        dataset_id=DATASET, content_root=_h(f"root {n}"), schema_hash=_h("schema"), size_bytes=1024 * n,
        record_count=10 * n, source_path=f"/data/registrations-{n}{suffixes[n % 3]}", chunk_size=1 << 20, schema=[],
        created_at=created.replace(month=3 + n)) for n in range(versions)]
    return dataset


def test_catalog_is_json_ld_with_an_inline_context() -> None:
    catalog = catalog_to_dcat([_dataset()], base_url=BASE_URL + "/",
                              publisher_names={"stats-bureau": "Statistics Bureau"})

    json.dumps(catalog)
    assert set(catalog["@context"]) >= {"dcat", "dct", "foaf", "xsd", "provledger"}
    assert catalog["@type"] == "dcat:Catalog"
    (dataset,) = catalog["dcat:dataset"]
    assert dataset["@id"] == f"{BASE_URL}/datasets/{DATASET}"
    assert dataset["dct:identifier"] == DATASET
    assert dataset["dct:title"] == "Enterprise registrations"
    assert dataset["dct:description"] == "Every enterprise registered, by month"
    assert dataset["dcat:keyword"] == ["enterprise", "registry"]
    assert dataset["dct:license"] == {"@id": "http://spdx.org/licenses/CC-BY-4.0"}
    assert dataset["dct:language"] == {"@id": "http://id.loc.gov/vocabulary/iso639-1/zh"}
    assert dataset["dct:publisher"]["foaf:name"] == "Statistics Bureau"
    assert dataset["dct:issued"] == {"@value": "2024-03-01T08:00:00+00:00", "@type": "xsd:dateTime"}
    assert dataset["dct:modified"]["@value"] == "2024-04-01T08:00:00+00:00"
    assert dataset["prov:wasDerivedFrom"] == [{"@id": f"{BASE_URL}/datasets/{PARENT}"}]
    assert dataset["provledger:category"] == "economy"
    assert dataset["provledger:metadataHash"] == _h("metadata")


def test_missing_catalog_fields_and_publisher_names_are_left_out_or_fall_back() -> None:
    bare = _dataset(catalog={}, versions=0, update_interval=0)

    (dataset,) = catalog_to_dcat([bare], base_url=BASE_URL)["dcat:dataset"]

    assert not {"dct:description", "dcat:keyword", "dct:license", "dct:language", "dct:modified",
                "dct:accrualPeriodicity"} & set(dataset)
    assert dataset["dcat:distribution"] == []
    assert dataset["dct:publisher"]["foaf:name"] == "stats-bureau"


@pytest.mark.parametrize(("grade", "rights"), [(1, "PUBLIC"), (2, "RESTRICTED"), (3, "RESTRICTED"), (4, "NON_PUBLIC")])
def test_access_rights_follow_the_grade(grade: int, rights: str) -> None:
    (dataset,) = catalog_to_dcat([_dataset(grade)], base_url=BASE_URL)["dcat:dataset"]

    assert dataset["dct:accessRights"] == {"@id": EU_ACCESS_RIGHTS + rights}
    assert dataset["provledger:grade"] == grade


def test_each_version_is_a_distribution_at_its_position() -> None:
    (dataset,) = catalog_to_dcat([_dataset(versions=3)], base_url=BASE_URL)["dcat:dataset"]

    distributions = dataset["dcat:distribution"]
    assert [d["dcat:accessURL"]["@id"] for d in distributions] == [
        f"{BASE_URL}/datasets/{DATASET}/versions/{n}" for n in (1, 2, 3)]
    assert [d["dcat:mediaType"]["@id"].rsplit("/", 2)[-2:] for d in distributions] == [
        ["text", "csv"], ["application", "x-ndjson"], ["application", "octet-stream"]]
    assert [d["dcat:byteSize"]["@value"] for d in distributions] == [0, 1024, 2048]
    assert [d["provledger:contentRoot"] for d in distributions] == [_h(f"root {n}") for n in range(3)]
    assert [d["provledger:recordCount"] for d in distributions] == [0, 10, 20]


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
