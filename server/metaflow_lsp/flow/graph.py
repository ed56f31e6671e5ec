"""The graph Metaflow builds for a flow (metaflow/graph.py's FlowGraph), computed from the model.

Node types, start/end identification, split parents, matching joins and the `output-raw`
JSON follow Metaflow's code. Metaflow walks every path of the graph (exponential in the number
of splits, and endless on some loops); here each (step, split state) is visited once and loops
are cut, which gives the same result on every graph Metaflow accepts.
"""

from __future__ import annotations

from typing import Any

from .build import metaflow_table
from .model import Flow, FlowGraph, GraphNode, Step

_KIND_TO_TYPE = {
    "linear": "linear",
    "join": "join",
    "split": "split",
    "foreach": "foreach",
    "parallel": "foreach",
    "switch": "split-switch",
}


def _node(step: Step, parallel_names: frozenset[str]) -> GraphNode:
    tail = step.transition
    node = GraphNode(name=step.name, type=None, out_funcs=[])
    node.parallel_step = any(d.is_metaflow and d.name in parallel_names for d in step.decorators)
    if tail is None:
        return node
    node.type = _KIND_TO_TYPE.get(tail.kind or "")
    node.out_funcs = list(tail.targets)
    if tail.kind == "parallel":
        node.parallel_foreach = True
        if tail.valid:
            node.num_parallel = tail.num_parallel
    elif tail.kind == "foreach" and tail.valid:
        node.foreach_param = tail.foreach
    elif tail.kind == "switch":
        node.condition = tail.condition
        node.switch_cases = dict(tail.switch_cases)
    return node


def build_graph(flow: Flow) -> FlowGraph:
    """Metaflow's FlowGraph for `flow`: types, in/out edges, split parents, matching joins."""
    table = metaflow_table()
    parallel_names = frozenset(n for n, d in table["step"].items() if d.get("is_parallel"))
    nodes = {name: _node(step, parallel_names) for name, step in flow.steps.items()}
    start, end = _identify_start_end(flow, nodes)
    sorted_nodes = _traverse(nodes, start)
    for node in nodes.values():
        foreaches = [p for p in node.split_parents if p in nodes and nodes[p].type == "foreach"]
        if [f for f in foreaches if nodes[f].matching_join != node.name]:
            node.is_inside_foreach = True
    return FlowGraph(nodes, start, end, find_cycles(nodes), sorted_nodes)


def _identify_start_end(flow: Flow, nodes: dict[str, GraphNode]) -> tuple[str | None, str | None]:
    def resolve(annotated: list[str], fallback: str) -> str | None:
        if len(annotated) == 1:
            return annotated[0]
        if not annotated:
            return fallback if fallback in nodes else None
        return None

    start = resolve([n for n, s in flow.steps.items() if s.is_start_annotated], "start")
    end = resolve([n for n, s in flow.steps.items() if s.is_end_annotated], "end")
    if len(nodes) == 1:
        (only,) = nodes
        start = end = only
    if start and start == end:
        nodes[start].type = "end"
    else:
        if start:
            if nodes[start].type in (None, "linear"):
                nodes[start].type = "start"
        if end:
            nodes[end].type = "end"
    return start, end


def _traverse(nodes: dict[str, GraphNode], start: str | None) -> list[str]:
    """FlowGraph._traverse_graph, iteratively, visiting each (step, split state) once."""
    order: list[str] = []
    if not start or start not in nodes:
        return order
    in_funcs: dict[str, set[str]] = {n: set() for n in nodes}
    visited: set[tuple[str, tuple[str, ...], tuple[str, ...]]] = set()
    # (name, path, split_parents, split_branches); path is the `seen` list of Metaflow's walk.
    stack: list[tuple[str, frozenset[str], list[str], list[str]]] = [(start, frozenset(), [], [])]
    while stack:
        name, seen, split_parents, split_branches = stack.pop()
        node = nodes[name]
        key = (name, tuple(split_parents), tuple(split_branches))
        if key in visited:
            continue
        visited.add(key)
        if name in order:
            order.remove(name)
        order.append(name)
        add_split_branch = False
        if node.type in ("split", "foreach"):
            node.split_parents = split_parents
            node.split_branches = split_branches
            add_split_branch = True
            split_parents = [*split_parents, name]
        elif node.type == "split-switch":
            node.split_parents = split_parents
            node.split_branches = split_branches
        elif node.type == "join":
            if split_parents:
                nodes[split_parents[-1]].matching_join = name
                node.split_parents = split_parents
                node.split_branches = split_branches[:-1]
                split_parents = split_parents[:-1]
                split_branches = split_branches[:-1]
        else:
            node.split_parents = split_parents
            node.split_branches = split_branches
        children = []
        for child in node.out_funcs:
            if child in seen or child not in nodes:
                continue
            in_funcs[child].add(name)
            children.append(
                (
                    child,
                    seen | {child},
                    split_parents,
                    split_branches + ([child] if add_split_branch else []),
                )
            )
        stack.extend(reversed(children))
    for name, parents in in_funcs.items():
        nodes[name].in_funcs = sorted(parents)
    return order


def find_cycles(nodes: dict[str, GraphNode]) -> list[list[str]]:
    """One path per loop of the graph (a switch step that loops to itself is allowed)."""
    cycles: list[list[str]] = []
    color: dict[str, int] = {}
    path: list[str] = []
    reported: set[frozenset[str]] = set()
    for root in nodes:
        if root in color:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        color[root] = 1
        path.append(root)
        while stack:
            name, i = stack[-1]
            node = nodes[name]
            outs = [
                n
                for n in node.out_funcs
                if n in nodes and not (node.type == "split-switch" and n == name)
            ]
            if i < len(outs):
                stack[-1] = (name, i + 1)
                child = outs[i]
                state = color.get(child, 0)
                if state == 0:
                    color[child] = 1
                    path.append(child)
                    stack.append((child, 0))
                elif state == 1:
                    loop = path[path.index(child) :] + [child]
                    members = frozenset(loop)
                    if members not in reported:
                        reported.add(members)
                        cycles.append(loop)
            else:
                color[name] = 2
                path.pop()
                stack.pop()
    return cycles


# ---------------------------------------------------------------------------------------------
# output-raw --json


class GraphStructureError(ValueError):
    """The graph's structure cannot be printed (Metaflow would fail or loop forever)."""


def _to_pod(value: Any) -> Any:
    """metaflow.util.to_pod for the values a decorator literal can hold."""
    if isinstance(value, (str, int, float)):
        return value
    if isinstance(value, dict):
        return {_to_pod(k): _to_pod(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_to_pod(v) for v in value]
    return str(value)


def _decorators_json(step: Step) -> list[dict[str, Any]]:
    table = metaflow_table()["step"]
    out = []
    # Metaflow records decorators as they are applied: bottom (nearest the def) first.
    for deco in reversed(step.decorators):
        if not deco.is_metaflow or deco.name.startswith("_"):
            continue
        known = table.get(deco.name)
        attributes: dict[str, Any] = dict(known["defaults"]) if known else {}
        for key, text in deco.kwargs:
            attributes[key] = _to_pod(deco.values[key]) if key in deco.values else text
        out.append(
            {
                "name": deco.name,
                "attributes": _to_pod(attributes),
                "statically_defined": True,
                "inserted_by": None,
            }
        )
    return out


_TYPE_NAMES = {
    "linear": "linear",
    "start": "start",
    "end": "end",
    "join": "join",
    "split": "split-static",
    "split-switch": "split-switch",
}


def node_type_name(node: GraphNode) -> str:
    """The type as `output-raw` prints it: split-static, split-foreach, split-parallel, ..."""
    if node.type == "foreach":
        return "split-parallel" if node.parallel_foreach else "split-foreach"
    return _TYPE_NAMES.get(node.type or "", "unknown")


def node_json(flow: Flow, node: GraphNode) -> dict[str, Any]:
    """One entry of `output-raw --json`'s `graph` mapping."""
    step = flow.steps[node.name]
    kind = node_type_name(node)
    d: dict[str, Any] = {
        "name": node.name,
        "type": kind,
        "line": step.def_line,
        "source_file": step.source_file,
        "doc": step.doc,
        "decorators": _decorators_json(step),
        "next": list(node.out_funcs),
        "node_info": {},
    }
    if kind == "split-foreach":
        d["foreach_artifact"] = node.foreach_param
    elif kind == "split-parallel":
        d["num_parallel"] = node.num_parallel
    elif kind == "split-switch":
        d["condition"] = node.condition
        d["switch_cases"] = dict(node.switch_cases)
    if node.matching_join:
        d["matching_join"] = node.matching_join
    return d


def output_steps(flow: Flow) -> tuple[dict[str, Any], list[Any]]:
    """FlowGraph.output_steps: the `graph` mapping and `graph_structure` list."""
    graph = flow.graph
    if graph is None:
        raise GraphStructureError("the flow has no graph")
    nodes = graph.nodes
    if graph.start_step is None or graph.end_step is None:
        missing = [
            n for n, v in (("start", graph.start_step), ("end", graph.end_step)) if v is None
        ]
        raise GraphStructureError(
            "Cannot compute graph structure: no %s step identified. "
            "Use @step(start=True)/@step(end=True) or name your steps "
            "'start'/'end'." % " or ".join(missing)
        )
    if graph.cycles:
        loop = "->".join(graph.cycles[0])
        raise GraphStructureError(f"Cannot compute graph structure: the flow has a loop: {loop}.")
    steps_info: dict[str, Any] = {}
    budget = [len(nodes) * 4 + 16]

    def populate_block(start_name: str, end_name: str | None) -> list[Any]:
        cur_name: str | None = start_name
        resulting: list[Any] = []
        while cur_name != end_name:
            budget[0] -= 1
            if budget[0] < 0:
                raise GraphStructureError(
                    "Cannot compute graph structure: the flow does not converge."
                )
            if cur_name not in nodes:
                raise GraphStructureError(
                    f"Cannot compute graph structure: unknown step {cur_name}."
                )
            cur = nodes[cur_name]
            steps_info[cur_name] = node_json(flow, cur)
            resulting.append(cur_name)
            kind = node_type_name(cur)
            if kind in ("split-static", "split-foreach"):
                resulting.append([populate_block(s, cur.matching_join) for s in cur.out_funcs])
                cur_name = cur.matching_join
            elif kind == "split-switch":
                resulting.append(
                    [populate_block(s, end_name) for s in cur.out_funcs if s != cur_name]
                )
                cur_name = end_name
            elif cur.out_funcs:
                cur_name = cur.out_funcs[0]
            else:
                break
        return resulting

    if graph.start_step == graph.end_step:
        structure: list[Any] = []
    else:
        structure = populate_block(graph.start_step, graph.end_step)
    steps_info[graph.end_step] = node_json(flow, nodes[graph.end_step])
    structure.append(graph.end_step)
    return steps_info, structure
