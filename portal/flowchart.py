"""A page-flow answer laid out as a Sankey diagram, drawn by the template as SVG.

Columns are steps; a node's height is its visitors; a link is a band from its
source's right edge to its target's left edge, as wide as its visitors. What a
node loses (drop-off) is the part of its right edge no link leaves from, drawn
in its own colour. Everything is computed here, so the page needs no script.
"""

from dataclasses import dataclass

WIDTH = 1000
NODE_WIDTH = 14
GAP = 14
PADDING_TOP = 24
MIN_HEIGHT = 320
PIXELS_PER_ROW = 56
LABEL_CHARS = 28


@dataclass
class Node:
    id: str
    step: int
    page: str
    visitors: int
    dropoff: int
    x: float = 0
    y: float = 0
    height: float = 0
    out_offset: float = 0
    in_offset: float = 0

    @property
    def label(self) -> str:
        return self.page if len(self.page) <= LABEL_CHARS else self.page[: LABEL_CHARS - 1] + "…"

    @property
    def dropoff_height(self) -> float:
        return self.height * self.dropoff / self.visitors if self.visitors else 0

    @property
    def dropoff_y(self) -> float:
        return self.y + self.height - self.dropoff_height

    @property
    def label_x(self) -> float:
        return self.x - 6 if self.x + NODE_WIDTH >= WIDTH else self.x + NODE_WIDTH + 6

    @property
    def label_anchor(self) -> str:
        return "end" if self.x + NODE_WIDTH >= WIDTH else "start"

    @property
    def label_y(self) -> float:
        return self.y + self.height / 2


@dataclass
class Link:
    source: Node
    target: Node
    visitors: int
    path: str = ""


@dataclass
class Chart:
    width: int
    height: int
    nodes: list[Node]
    links: list[Link]
    steps: list[int]
    headings: list[dict]


def _node_visitors(node_id, links, dropoffs) -> int:
    inflow = sum(link["visitors"] for link in links if link["target"] == node_id)
    outflow = sum(link["visitors"] for link in links if link["source"] == node_id)
    return max(inflow, outflow + dropoffs.get(node_id, 0))


def layout(flows: dict) -> Chart | None:
    """Positions for every node and link of a page-flow answer; None when it has no nodes."""
    if not flows.get("nodes"):
        return None
    dropoffs = {d["node"]: d["visitors"] for d in flows.get("dropoffs", [])}
    nodes = {
        raw["id"]: Node(
            id=raw["id"],
            step=raw["step"],
            page=raw["page"],
            visitors=raw.get("visitors") or _node_visitors(raw["id"], flows["links"], dropoffs),
            dropoff=dropoffs.get(raw["id"], 0),
        )
        for raw in flows["nodes"]
    }
    steps = sorted({node.step for node in nodes.values()})
    columns = {step: sorted((n for n in nodes.values() if n.step == step), key=lambda n: -n.visitors) for step in steps}
    tallest = max(len(column) for column in columns.values())
    height = max(MIN_HEIGHT, PADDING_TOP + tallest * PIXELS_PER_ROW)
    # One scale for all columns, so equal visitors are equal heights everywhere.
    scale = min(
        (height - PADDING_TOP - GAP * (len(column) - 1)) / max(1, sum(n.visitors for n in column))
        for column in columns.values()
    )
    spacing = (WIDTH - NODE_WIDTH) / max(1, len(steps) - 1)
    for index, step in enumerate(steps):
        y = PADDING_TOP
        for node in columns[step]:
            node.x = round(index * spacing, 1)
            node.y = round(y, 1)
            node.height = round(max(1.0, node.visitors * scale), 1)
            y += node.height + GAP
    links = [
        Link(source=nodes[raw["source"]], target=nodes[raw["target"]], visitors=raw["visitors"])
        for raw in flows["links"]
        if raw["source"] in nodes and raw["target"] in nodes
    ]
    # Bands leave and arrive in the order of the nodes they connect, so they cross least.
    for link in sorted(links, key=lambda link: (link.source.y, link.target.y)):
        thickness = link.visitors * scale
        x0, x1 = link.source.x + NODE_WIDTH, link.target.x
        y0, y1 = link.source.y + link.source.out_offset, link.target.y + link.target.in_offset
        middle = (x0 + x1) / 2
        link.path = (
            f"M{x0:.1f},{y0:.1f} C{middle:.1f},{y0:.1f} {middle:.1f},{y1:.1f} {x1:.1f},{y1:.1f} "
            f"L{x1:.1f},{y1 + thickness:.1f} C{middle:.1f},{y1 + thickness:.1f} {middle:.1f},{y0 + thickness:.1f} "
            f"{x0:.1f},{y0 + thickness:.1f} Z"
        )
        link.source.out_offset += thickness
        link.target.in_offset += thickness
    ordered = [node for step in steps for node in columns[step]]
    last = len(steps) - 1
    headings = [
        {
            "label": f"Step {step}",
            "x": round(index * spacing + (NODE_WIDTH if index == last else 0), 1),
            "anchor": "end" if index == last and index else "start",
        }
        for index, step in enumerate(steps)
    ]
    return Chart(width=WIDTH, height=height, nodes=ordered, links=links, steps=steps, headings=headings)
