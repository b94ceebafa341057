"""The demo's query chapter (数据可用不可见): a consumer asks for a query grant on a Chinese
table, the owner approves it, a grouped count leaves with its small group held back, a query
asking for ID numbers is refused with the reason, and the ε left is read back from the node."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any

from api.cli.access import decide, query_grant, request_access
from api.cli.client import Refused
from api.cli.datasets import register_dataset
from api.cli.queries import BoundOption, privacy_terms
from node.catalog.freshness import DAY

if TYPE_CHECKING:
    from api.demo import Story

DISTRICTS = {"东城区": 30, "西城区": 25, "朝阳区": 4}
WORDS = "query grant: ε budget 5, at most 1 per query, groups of at least 10, bounds 年龄 0–120, 补助金额 0–5000"


def _roll(story: Story) -> str:
    """The civil-affairs roll of people on minimum living support, registered by the owner."""
    path = story.folder / "relief-roll.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        rows = [("姓名", "身份证号", "区县", "年龄", "补助金额")]
        rows += [(f"王{district}{i}", f"11010119700101{i:04d}", district, str(30 + i % 50), str(300 + 50 * (i % 20)))
                 for district, count in DISTRICTS.items() for i in range(count)]
        csv.writer(f, lineterminator="\n").writerows(rows)
    dataset, _, block = register_dataset(story.owner, path, code="relief-roll-2026", name="低保对象名册",
                                         category="民政", grade=2, interval=DAY,
                                         field_classes={"姓名": "name", "身份证号": "id_number"}, rules=[],
                                         key_fields=[])
    story.say(f"低保对象名册 {dataset['dataset_id']}: {sum(DISTRICTS.values())} people, anchored in block {block}")
    return str(dataset["dataset_id"])


def query_chapter(story: Story) -> None:
    story.step("a query grant (数据可用不可见): consumer-2 asks for aggregate queries on a Chinese table, the owner "
               "approves, a grouped count leaves and an ID number does not")
    dataset = _roll(story)
    consumer, account = story.consumers[1], story.d.consumers[1].account
    terms = privacy_terms(budget="5", cap="1", k=10, bounds=[BoundOption("年龄", 0, 120),
                                                              BoundOption("补助金额", 0, 5000)])
    grant = request_access(consumer, account, dataset, purpose="2026年社会救助统计", fields=["区县", "年龄", "补助金额"],
                           uses=10, days=30, terms=terms)

    def queued() -> dict[str, Any] | None:
        return next((q for q in story.owner.call("GET", "/review/queue") if q["grant_id"] == grant), None)

    item = story.progress.wait("the query grant in the owner's queue", queued)
    story.say(f"the owner's reviewer reads: {item['dataset_name']}, purpose {item['purpose']!r}, "
              f"{item['query_terms']['words']}")
    story.check(item["query_terms"]["words"] == WORDS, "the terms in words, ε as decimals")
    decide(story.owner, grant, reason="统计用途, 仅汇总")

    def active() -> bool | None:
        return any(g["grant_id"] == grant and g["status"] == "active" for g in consumer.call("GET", "/me/grants")) or None

    story.progress.wait("the query grant active", active)
    released = query_grant(consumer, grant, "SELECT 区县, COUNT(*) AS 人数 FROM data GROUP BY 区县", epsilon="1")
    story.say("released: " + ", ".join(f"{district} ≈{count}" for district, count in released["rows"])
              + f"; only districts whose noisy count reached {released['release_threshold']} go out; "
              f"result {released['result_hash']}")
    story.check({row[0] for row in released["rows"]} == {"东城区", "西城区"} and released["release_threshold"] >= 10,
                "each district of at least 10 people counted, with noise; 朝阳区 (4 people) held back")
    try:
        query_grant(consumer, grant, "SELECT 身份证号, COUNT(*) FROM data GROUP BY 身份证号", epsilon="0.5")
        refused: Refused | None = None
    except Refused as err:
        refused = err
    story.say(f"asking for ID numbers: {refused}")
    story.check(refused is not None and refused.status_code == 422 and "身份证号" in str(refused),
                "a query on 身份证号 is refused, naming the field")
    story.owner.wait_write(released["write"], "the query's record")

    def recorded() -> dict[str, Any] | None:
        found: dict[str, Any] = consumer.call("GET", f"/grants/{grant}/queries")
        return found if found["queries"] else None

    shown = story.progress.wait("the query recorded on chain and indexed", recorded)
    story.say(f"ε {shown['epsilon_spent']} of {shown['terms']['epsilon_budget']} spent, {shown['epsilon_left']} left; "
              f"query #{shown['queries'][0]['sequence']}: {shown['queries'][0]['sql']}")
    story.check((shown["epsilon_spent"], shown["epsilon_left"]) == ("1", "4") and shown["queries"][0]["sql"] is not None,
                "ε 1 of 5 spent, 4 left, the SQL kept beside its hash")
