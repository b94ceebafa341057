"""A dataset's lineage as a small layered graph drawn in SVG by the server: its ancestors
above, its descendants below, a few generations each way.

Every edge was declared on-chain by the child's ``DatasetRegistered`` event; each dataset's
registration is verified against the chain (one batched read), so a node and the edges into it
are marked verified or failed, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dashboard.trace import short
from ledger.deploy import Ledger
from node.models import ChainEventRow, Dataset
from node.audit.trace import lineage
from node.audit.verify import verify_events

GENERATIONS = 3
MAX_NODES = 40
BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 188, 52, 20, 44, 8


@dataclass(frozen=True)
class GraphNode:
    dataset_id: str
    label: str
    depth: int
    """Generations from the dataset: negative for ancestors, 0 for itself."""
    problems: tuple[str, ...]
    x: float = 0.0
    y: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class GraphEdge:
    parent: GraphNode
    child: GraphNode

    @property
    def ok(self) -> bool:
        return self.child.ok

    @property
    def path(self) -> str:
        """A curve from the parent's bottom to the child's top."""
        x1, y1 = self.parent.x + BOX_W / 2, self.parent.y + BOX_H
        x2, y2 = self.child.x + BOX_W / 2, self.child.y
        middle = (y1 + y2) / 2
        return f"M{x1:.0f},{y1:.0f} C{x1:.0f},{middle:.0f} {x2:.0f},{middle:.0f} {x2:.0f},{y2:.0f}"


@dataclass(frozen=True)
class LineageGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    width: float
    height: float
    truncated: bool

    def of(self, depth: int) -> list[GraphNode]:
        return [n for n in self.nodes if n.depth == depth]


def _walk(db: Session, dataset_id: str) -> tuple[dict[str, int], set[tuple[str, str]], bool]:
    """Datasets within GENERATIONS of ``dataset_id`` with their depth, the edges among them, and
    whether more of the family was left out."""
    depth = {dataset_id: 0}
    edges: set[tuple[str, str]] = set()
    truncated = False
    for direction in (-1, 1):
        frontier = [dataset_id]
        for generation in range(1, GENERATIONS + 2):
            following = []
            for current in frontier:
                family = lineage(db, current)
                relatives = family.parents if direction < 0 else family.children
                if relatives and generation > GENERATIONS:
                    truncated = True
                    continue
                for other in relatives:
                    if other not in depth and len(depth) >= MAX_NODES:
                        truncated = True
                        continue
                    edges.add((other, current) if direction < 0 else (current, other))
                    if other not in depth:
                        depth[other] = direction * generation
                        following.append(other)
            frontier = following
    return depth, {e for e in edges if e[0] in depth and e[1] in depth}, truncated


def lineage_graph(db: Session, ledger: Ledger, dataset_id: str) -> LineageGraph:
    dataset_id = dataset_id.lower()
    depth, edges, truncated = _walk(db, dataset_id)
    registrations = list(db.scalars(select(ChainEventRow).where(ChainEventRow.name == "DatasetRegistered",
                                                                ChainEventRow.dataset_id.in_(depth))))
    reports = dict(zip((r.dataset_id for r in registrations), verify_events(ledger, registrations))) \
        if registrations else {}
    names = {d: n for d, n in db.execute(select(Dataset.dataset_id, Dataset.name).where(Dataset.dataset_id.in_(depth)))}
    layers = sorted(set(depth.values()))
    widest = max(sum(1 for d in depth.values() if d == layer) for layer in layers)
    width = widest * (BOX_W + GAP_X) - GAP_X + 2 * PAD
    nodes: dict[str, GraphNode] = {}
    for row, layer in enumerate(layers):
        members = sorted((d for d, g in depth.items() if g == layer), key=lambda d: (names.get(d, "~"), d))
        left = (width - (len(members) * (BOX_W + GAP_X) - GAP_X)) / 2
        for i, member in enumerate(members):
            report = reports.get(member)
            problems = tuple(report.problems) if report else ("no registration of it is indexed on this node",)
            nodes[member] = GraphNode(member, names.get(member) or short(member), layer, problems,
                                      left + i * (BOX_W + GAP_X), PAD + row * (BOX_H + GAP_Y))
    ordered = sorted(nodes.values(), key=lambda n: (n.depth, n.x))
    links = [GraphEdge(nodes[p], nodes[c]) for p, c in sorted(edges)]
    height = len(layers) * (BOX_H + GAP_Y) - GAP_Y + 2 * PAD
    return LineageGraph(ordered, links, width, height, truncated)
