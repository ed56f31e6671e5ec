"""metaflow/graph: a flow's DAG from its source, shaped for drawing.

Steps carry `output-raw`'s fields (type, next, doc, decorators, foreach/switch/parallel
details); on top of them: the edges with their kind and switch labels, and the groups to shade
(a foreach's or a @parallel's body, nested as the splits are), so the client only lays it out.
Broken flows still draw: every step with a node is listed, and the errors come along.
"""

from __future__ import annotations

from typing import Any

from ..flow import Flow, FlowFile
from ..flow.graph import node_json
from ..flow.model import GraphNode
from . import params as p
from .context import NOT_FOUND, ApiHost, RequestError


def _group_of(nodes: dict[str, GraphNode], node: GraphNode) -> str | None:
    """The innermost foreach or parallel split whose body holds `node` (its join is outside)."""
    for parent in reversed(node.split_parents):
        split = nodes.get(parent)
        if split is None or split.type != "foreach" or parent == node.name:
            continue
        if split.matching_join == node.name:
            continue
        return parent
    return None


def _edge_kind(node: GraphNode) -> str:
    if node.type == "foreach":
        return "parallel" if node.parallel_foreach else "foreach"
    if node.type == "split-switch":
        return "switch"
    if node.type == "split":
        return "split"
    return "linear"


def graph_json(flow_file: FlowFile, flow: Flow) -> dict[str, Any]:
    """The DAG of `flow`: steps in topological order, edges, groups, start/end and errors."""
    graph = flow.graph
    nodes = graph.nodes if graph is not None else {}
    order = list(graph.sorted_nodes) if graph is not None else []
    order += [n for n in nodes if n not in order]
    steps = []
    edges = []
    groups: dict[str, dict[str, Any]] = {}
    for name in order:
        node = nodes[name]
        step = flow.steps[name]
        item = node_json(flow, node)
        group = _group_of(nodes, node)
        rng = step.name_range
        item.update(
            {
                "parallel_step": node.parallel_step,
                "group": group,
                "in_funcs": list(node.in_funcs),
                "reachable": graph is not None and name in graph.sorted_nodes,
                "inherited_from": step.inherited_from,
                "position": {"line": rng.start.line - 1, "character": rng.start.column},
                "broken": step.syntax_error is not None,
            }
        )
        steps.append(item)
        labels: dict[str, list[str]] = {}
        for key, target in node.switch_cases.items():
            labels.setdefault(target, []).append(str(key))
        for target in node.out_funcs:
            if target not in nodes:
                continue
            edges.append(
                {
                    "from": name,
                    "to": target,
                    "kind": _edge_kind(node),
                    "label": ", ".join(labels.get(target, [])) or None,
                }
            )
        if node.type == "foreach":
            groups[name] = {
                "id": name,
                "kind": "parallel" if node.parallel_foreach else "foreach",
                "split": name,
                "join": node.matching_join,
                "foreach_artifact": node.foreach_param,
                "num_parallel": node.num_parallel if node.parallel_foreach else None,
                "parent": _group_of(nodes, node),
                "steps": [],
            }
    for item in steps:
        if item["group"] in groups:
            groups[item["group"]]["steps"].append(item["name"])
    errors = [
        {"line": d.range.start.line, "message": d.message, "code": d.code}
        for d in flow_file.diagnostics
        if d.severity == "error"
        and d.file == flow.source_file
        and flow.range.start.line <= d.range.start.line <= flow.range.end.line
    ]
    return {
        "flow": flow.name,
        "file": flow.source_file,
        "doc": flow.doc,
        "parameters": [
            {
                "name": param.name or param.attribute,
                "kind": param.kind,
                "default": param.default,
                "help": param.help,
            }
            for param in flow.parameters
        ],
        "start": graph.start_step if graph is not None else None,
        "end": graph.end_step if graph is not None else None,
        "steps": steps,
        "edges": edges,
        "groups": [g for g in groups.values() if g["steps"]],
        "errors": errors,
    }


async def get_graph(host: ApiHost, params: dict[str, Any]) -> dict[str, Any]:
    """metaflow/graph: the DAG of a flow from its source, before or without any run."""
    flow_name = p.string(params, "flow", required=True)
    assert flow_name is not None
    flow_file = await host.flow_source(flow_name, p.uri_path(params))
    flow = flow_file.flow(flow_name) if flow_file is not None else None
    if flow_file is None or flow is None:
        known = sorted(await host.source_flows(p.uri_path(params)))
        raise RequestError(
            NOT_FOUND,
            "not_found",
            f"no source of {flow_name} found"
            + (f" (flows found: {', '.join(known)})" if known else "")
            + ": open its flow file in the editor, or start the view in its folder "
            "(`metaflow-lsp view --dir <folder>`)",
        )
    return graph_json(flow_file, flow)
