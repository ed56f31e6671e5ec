"""Every structural error of a flow at once, on the line Metaflow names for it.

Each rule of metaflow/lint.py is here with Metaflow's message (without its `*` emphasis), but
reports every offending step instead of stopping at the first, never loops on a cyclic graph,
and skips what a syntax error makes unknowable. Rules Metaflow does not have follow at the end.
"""

from __future__ import annotations

import re

from .build import metaflow_table
from .model import Diagnostic, Flow, FlowGraph, GraphNode, Range, Severity, Step

RESERVED = frozenset({"name", "next", "input", "index", "cmd"})
_CYCLE_SEARCH_BUDGET = 20000


def _plain(message: str) -> str:
    return message.replace("*", "")


class _Report:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.items: list[Diagnostic] = []
        self._seen: set[tuple[str, int, int, str]] = set()

    def add(
        self,
        code: str,
        message: str,
        rng: Range,
        severity: Severity = "error",
        file: str | None = None,
    ) -> None:
        key = (code, rng.start.line, rng.start.column, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.items.append(
            Diagnostic(file or self.flow.source_file, rng, severity, code, _plain(message))
        )

    def at_def(self, code: str, message: str, step: Step) -> None:
        self.add(code, message, step.name_range, file=step.source_file)

    def at_next(self, code: str, message: str, step: Step, target: int | None = None) -> None:
        """At the `self.next` line (Metaflow's tail_next_lineno), or at the def without one."""
        if step.tail is None:
            self.at_def(code, message, step)
            return
        rng = step.tail.range
        if target is not None and target < len(step.tail.target_ranges):
            candidate = step.tail.target_ranges[target]
            if candidate.start.line == rng.start.line:
                rng = candidate
        self.add(code, message, rng, file=step.source_file)

    def at_flow(self, code: str, message: str) -> None:
        self.add(code, message, self.flow.name_range)


def lint_flow(flow: Flow) -> list[Diagnostic]:
    """All structural diagnostics of one flow (its graph must be built)."""
    graph = flow.graph
    assert graph is not None
    report = _Report(flow)
    steps = flow.steps
    nodes = graph.nodes
    broken = {n for n, s in steps.items() if s.syntax_error is not None}

    _reserved_words(report, steps)
    _basic_steps(report, flow, graph)
    _annotation_conflict(report, graph)
    _start_end_degree(report, graph, steps)
    _end_is_end(report, graph, steps)
    _step_names(report, steps)
    _num_args(report, nodes, steps, broken)
    _static_transitions(report, nodes, steps, broken)
    _valid_transitions(report, nodes, steps)
    _unknown_transitions(report, nodes, steps)
    _acyclicity(report, graph, steps)
    if not broken:
        _orphans(report, graph, steps)
        if not graph.cycles:
            _split_join_balance(report, graph, steps)
    _switch_splits(report, nodes, steps)
    _empty_foreaches(report, nodes, steps)
    _parallel_rules(report, nodes, steps)
    _ambiguous_joins(report, nodes, steps)
    # Beyond Metaflow's linter.
    _duplicates(report, flow)
    _next_not_last(report, flow)
    if not broken and not graph.cycles:
        _undefined_artifacts(report, flow, graph)
    return report.items


# ---------------------------------------------------------------------------------------------
# Metaflow's rules, in metaflow/lint.py's order


def _reserved_words(report: _Report, steps: dict[str, Step]) -> None:
    msg = "Step name *%s* is a reserved word. Choose another name for the step."
    for name, step in steps.items():
        if name in RESERVED:
            report.at_def("reserved-step-name", msg % name, step)


def _basic_steps(report: _Report, flow: Flow, graph: FlowGraph) -> None:
    for attr, fallback, code in (
        ("is_start_annotated", "start", "start"),
        ("is_end_annotated", "end", "end"),
    ):
        chosen = graph.start_step if fallback == "start" else graph.end_step
        if chosen is not None:
            continue
        annotated = sorted(n for n, s in flow.steps.items() if getattr(s, attr))
        if len(annotated) > 1:
            message = (
                f"Multiple steps annotated with @step({fallback}=True): {', '.join(annotated)}. "
                "Exactly one is allowed."
            )
            for name in annotated:
                step = flow.steps[name]
                if step.source_file == flow.source_file and step.inherited_from is None:
                    report.at_def(f"multiple-{code}", message, step)
            report.at_flow(f"multiple-{code}", message)
        else:
            report.at_flow(
                f"missing-{code}",
                f"Your flow must have exactly one {fallback} step. Either name a step "
                f"'{fallback}' or use @step({fallback}=True).",
            )


def _annotation_conflict(report: _Report, graph: FlowGraph) -> None:
    steps = report.flow.steps
    if graph.start_step is not None and graph.start_step != "start" and "start" in steps:
        report.at_def(
            "ambiguous-start",
            "Ambiguous start step: step '%s' is annotated with @step(start=True) "
            "but a step named 'start' also exists. Remove the 'start' name or "
            "the @step(start=True) annotation." % graph.start_step,
            steps[graph.start_step],
        )
    if graph.end_step is not None and graph.end_step != "end" and "end" in steps:
        report.at_def(
            "ambiguous-end",
            "Ambiguous end step: step '%s' is annotated with @step(end=True) "
            "but a step named 'end' also exists. Remove the 'end' name or "
            "the @step(end=True) annotation." % graph.end_step,
            steps[graph.end_step],
        )


def _start_end_degree(report: _Report, graph: FlowGraph, steps: dict[str, Step]) -> None:
    if graph.start_step is None or graph.end_step is None:
        return
    start = graph.nodes[graph.start_step]
    if start.in_funcs:
        report.at_def(
            "start-has-incoming",
            "The start step *%s* has incoming transitions from %s. "
            "A start step must have no incoming transitions."
            % (graph.start_step, ", ".join(start.in_funcs)),
            steps[graph.start_step],
        )
    end = graph.nodes[graph.end_step]
    if end.out_funcs:
        report.at_def(
            "end-has-outgoing",
            "The end step *%s* has outgoing transitions. "
            "An end step must have no outgoing transitions (no self.next())." % graph.end_step,
            steps[graph.end_step],
        )


def _end_is_end(report: _Report, graph: FlowGraph, steps: dict[str, Step]) -> None:
    if graph.end_step is None:
        return
    step = steps[graph.end_step]
    if step.has_tail_next:
        report.at_next(
            "end-has-next",
            "The terminal step *%s* should not have a self.next() transition. Just remove it."
            % graph.end_step,
            step,
        )
    if step.num_args > 1:
        report.at_next(
            "end-is-join",
            "The terminal step *%s* should not be a join step (it gets an extra "
            "argument). Add a join step before it." % graph.end_step,
            step,
        )


def _step_names(report: _Report, steps: dict[str, Step]) -> None:
    for name, step in steps.items():
        if re.search("[^a-z0-9_]", name) or name[0] == "_":
            report.at_def(
                "invalid-step-name",
                f"Step *{name}* has an invalid name. Only lowercase ascii "
                "characters, underscores, and digits are allowed.",
                step,
            )


def _num_args(
    report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step], broken: set[str]
) -> None:
    for name, step in steps.items():
        if name in broken:
            continue
        node = nodes[name]
        if step.num_args > 2:
            report.at_def(
                "too-many-arguments",
                f"Step {name} has too many arguments. Normal steps take only "
                "'self' as an argument. Join steps take 'self' and 'inputs'.",
                step,
            )
        elif step.num_args == 2 and node.type != "join":
            report.at_def(
                "join-and-split",
                f"Step *{name}* is both a join step (it takes an extra argument) "
                "and a split step (it transitions to multiple steps). This is not "
                "allowed. Add a new step so that split and join become separate steps.",
                step,
            )
        elif step.num_args == 0:
            report.at_def("missing-self", f"Step *{name}* is missing the 'self' argument.", step)


def _static_transitions(
    report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step], broken: set[str]
) -> None:
    for name, step in steps.items():
        if name in broken:
            continue
        if nodes[name].type != "end" and not step.has_tail_next:
            report.at_def(
                "missing-next",
                f"Step *{name}* is missing a self.next() transition to "
                "the next step. Add a self.next() as the last line in the function.",
                step,
            )


_INVALID_NEXT = (
    "Step *{0}* specifies an invalid self.next() transition. "
    "Make sure the self.next() expression matches with one of the "
    "supported transition types:\n"
    "  • Linear: self.next(self.step_name)\n"
    "  • Fan-out: self.next(self.step1, self.step2, ...)\n"
    "  • Foreach: self.next(self.step, foreach='variable')\n"
    "  • Switch: self.next({{\"key\": self.step, ...}}, condition='variable')\n\n"
    "For switch statements, keys must be string literals, numbers or config expressions "
    "(self.config.key_name), not variables."
)


def _valid_transitions(
    report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step]
) -> None:
    for name, step in steps.items():
        tail = step.tail
        if nodes[name].type != "end" and step.has_tail_next and tail is not None and not tail.valid:
            report.at_next("invalid-next", _INVALID_NEXT.format(name), step)


def _unknown_transitions(
    report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step]
) -> None:
    for name, node in nodes.items():
        for i, target in enumerate(node.out_funcs):
            if target not in nodes:
                report.at_next(
                    "unknown-step",
                    f"Step *{name}* specifies a self.next() transition to an unknown step, *{target}*.",
                    steps[name],
                    target=i,
                )


def _metaflow_first_cycle(nodes: dict[str, GraphNode]) -> tuple[str, list[str]] | None:
    """The loop Metaflow's check_for_acyclicity reports first, within a search budget."""
    budget = [_CYCLE_SEARCH_BUDGET]

    class _Found(Exception):
        pass

    def check_path(node: GraphNode, seen: list[str]) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise TimeoutError
        for n in node.out_funcs:
            if node.type == "split-switch" and n == node.name:
                continue
            if n not in nodes:
                continue
            if n in seen:
                raise _Found(node.name, [*seen, n])
            check_path(nodes[n], [*seen, n])

    try:
        for start in nodes.values():
            check_path(start, [])
    except _Found as found:
        return found.args[0], found.args[1]
    except (TimeoutError, RecursionError):
        return None
    return None


def _acyclicity(report: _Report, graph: FlowGraph, steps: dict[str, Step]) -> None:
    if not graph.cycles:
        return
    msg = "There is a loop in your flow: *{0}*. Break the loop by fixing self.next() transitions."
    first = _metaflow_first_cycle(graph.nodes)
    first_members = frozenset(first[1]) if first is not None else frozenset()
    reported: set[frozenset[str]] = set()
    for loop in graph.cycles:
        members = frozenset(loop)
        if members in reported:
            continue
        reported.add(members)
        # Metaflow's wording of the loop when it is the one Metaflow reports, else ours.
        is_first = first is not None and members == first_members
        text = msg.format("->".join(first[1] if first is not None and is_first else loop))
        if first is not None and is_first:
            report.at_next("cycle", text, steps[first[0]])
        # Every step on the loop, at its self.next: any of them may be the one to fix.
        for name in loop[:-1]:
            report.at_next("cycle", text, steps[name])


def _orphans(report: _Report, graph: FlowGraph, steps: dict[str, Step]) -> None:
    if graph.start_step is None:
        return
    seen = {graph.start_step}
    stack = [graph.start_step]
    while stack:
        for n in graph.nodes[stack.pop()].out_funcs:
            if n not in seen and n in graph.nodes:
                seen.add(n)
                stack.append(n)
    for name, step in steps.items():
        if name not in seen:
            report.at_def(
                "unreachable-step",
                f"Step *{name}* is unreachable from the entry step *{graph.start_step}*. Add "
                f"self.next({name}) in another step or remove *{name}*.",
                step,
            )


def _split_join_balance(report: _Report, graph: FlowGraph, steps: dict[str, Step]) -> None:
    if graph.start_step is None or graph.end_step is None:
        return
    nodes = graph.nodes
    end = graph.end_step
    visited: set[tuple[str, tuple[tuple[str, ...], ...]]] = set()

    def parents(n: str) -> tuple[str, ...]:
        if nodes[n].type == "join":
            return tuple(nodes[n].split_parents[:-1])
        return tuple(nodes[n].split_parents)

    stack: list[tuple[str, list[tuple[str, ...]]]] = [(graph.start_step, [])]
    while stack:
        name, split_stack = stack.pop()
        key = (name, tuple(split_stack))
        if key in visited:
            continue
        visited.add(key)
        node = nodes[name]
        step = steps[name]
        new_stack = split_stack
        stop = False
        if node.type in ("split", "foreach"):
            new_stack = [*split_stack, tuple(node.out_funcs)]
        elif node.type == "split-switch":
            for n in node.out_funcs:
                if n != name and n in nodes:
                    stack.append((n, split_stack))
            continue
        elif node.type == "end":
            if split_stack:
                roots = ", ".join(split_stack[-1])
                report.at_def(
                    "end-before-join",
                    f"The terminal step *{end}* was reached before a split started at step(s) "
                    f"*{roots}* were joined. Add a join step before *{end}*.",
                    step,
                )
                stop = True
        elif node.type == "join":
            # Like Metaflow's check, but a violation is recorded and the walk goes on, so that
            # what lies beyond a bad join (a split never joined, say) is reported too.
            if split_stack:
                split_roots = split_stack[-1]
                new_stack = split_stack[:-1]
                incoming = [n for n in node.in_funcs if n in nodes]
                if any(not nodes[n].split_branches for n in incoming):
                    # A split leads straight to this join (Metaflow's own check crashes here);
                    # empty-foreach or join-and-split names the real problem.
                    continue
                resolved = {nodes[n].split_branches[-1] for n in incoming}
                if len(resolved) != len(split_roots) or resolved ^ set(split_roots):
                    report.at_def(
                        "join-path-mismatch",
                        f"Step *{name}* seems like a join step (it takes an extra input "
                        f"argument) but an incorrect number of steps (*{', '.join(sorted(resolved))}*) lead to "
                        f"it. This join was expecting {len(split_roots)} incoming paths, starting "
                        f"from split step(s) *{', '.join(split_roots)}*.",
                        step,
                    )
            else:
                report.at_def(
                    "join-without-split",
                    f"Step *{name}* seems like a join step (it takes an extra input "
                    "argument) but it is not preceded by a split. Ensure that there is "
                    "a matching split for every join.",
                    step,
                )
            if len({parents(n) for n in node.in_funcs if n in nodes}) > 1:
                report.at_def(
                    "cross-join",
                    f"Step *{name}* joins steps from unrelated splits. Ensure that "
                    "there is a matching join for every split.",
                    step,
                )
        if stop:
            continue
        for n in reversed(node.out_funcs):
            if n in nodes:
                stack.append((n, new_stack))


def _switch_splits(report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step]) -> None:
    for name, node in nodes.items():
        if node.type != "split-switch":
            continue
        step = steps[name]
        if len(node.out_funcs) < 2:
            report.at_def(
                "switch-too-few-cases",
                f"Step *{name}* is a switch split but defines {len(node.out_funcs)} transitions. "
                "Switch splits must define at least 2 transitions.",
                step,
            )
        if not node.condition:
            report.at_def(
                "switch-no-condition",
                f"Step *{name}* is a switch split but has no condition variable.",
                step,
            )
        if not node.switch_cases:
            report.at_def(
                "switch-no-cases",
                f"Step *{name}* is a switch split but has no switch cases defined.",
                step,
            )


def _empty_foreaches(report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step]) -> None:
    for name, node in nodes.items():
        if node.type == "foreach":
            joins = [n for n in node.out_funcs if n in nodes and nodes[n].type == "join"]
            if joins:
                report.at_def(
                    "empty-foreach",
                    f"Step *{name}* is a foreach split that has no children: "
                    f"it is followed immediately by a join step, *{joins[0]}*. Add "
                    "at least one step between the split and the join.",
                    steps[name],
                )


def _parallel_rules(report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step]) -> None:
    for name, node in nodes.items():
        if node.parallel_foreach and not all(
            nodes[o].parallel_step for o in node.out_funcs if o in nodes
        ):
            report.at_def(
                "parallel-missing-decorator",
                f"Step *{name}* is called as a parallel step with self.next(num_parallel=..) "
                "but does not have a @parallel decorator.",
                steps[name],
            )
    for name, node in nodes.items():
        if node.parallel_step and node.out_funcs and node.out_funcs[0] in nodes:
            if nodes[node.out_funcs[0]].type != "join":
                report.at_def(
                    "parallel-not-followed-by-join",
                    f"An @parallel step should be followed by a join step. Step *{node.out_funcs[0]}* is called "
                    "after an @parallel step but is not a join step. Please add an extra `inputs` "
                    "argument to the step.",
                    steps[name],
                )
    for name, node in nodes.items():
        if not node.parallel_step:
            continue
        for other in nodes.values():
            if name in other.out_funcs and not other.parallel_foreach:
                report.at_def(
                    "parallel-not-called-with-num-parallel",
                    f"Step *{name}* has a @parallel decorator, but is not called "
                    f"with self.next(num_parallel=...) from step *{other.name}*.",
                    steps[name],
                )


def _ambiguous_joins(report: _Report, nodes: dict[str, GraphNode], steps: dict[str, Step]) -> None:
    for name, node in nodes.items():
        if node.type != "join":
            continue
        problematic = [p for p in node.in_funcs if p in nodes and nodes[p].type == "split-switch"]
        if problematic:
            report.at_def(
                "switch-to-join",
                "A conditional path cannot lead directly to a join step.\n"
                "In your conditional step(s) {parents}, one or more of the possible paths transition "
                "directly to the join step {join_name}.\n"
                "As a workaround, please introduce an intermediate, unconditional step on that "
                "specific path before joining.".format(
                    parents=", ".join("*%s*" % p for p in problematic), join_name="*%s*" % name
                ),
                steps[name],
            )


# ---------------------------------------------------------------------------------------------
# Beyond Metaflow


def _duplicates(report: _Report, flow: Flow) -> None:
    for shadowed, winner in flow.duplicate_steps:
        report.at_def(
            "duplicate-step",
            f"Step {winner.name} is defined more than once (also on line {shadowed.def_line}). "
            "Python keeps only the last definition, so the earlier one is silently ignored; "
            "rename or remove one of them.",
            winner,
        )


def _next_not_last(report: _Report, flow: Flow) -> None:
    for step in flow.own_steps:
        for rng in step.nexts_not_last:
            report.add(
                "next-not-last",
                f"self.next() must be the last statement of step {step.name}. Metaflow only "
                "reads a transition that ends the step; move this call to the end or split the step.",
                rng,
                file=step.source_file,
            )


def _ancestor_masks(graph: FlowGraph) -> tuple[dict[str, int], dict[str, int]]:
    """Bit per step, and for each step the bits of every step on a path from a root to it."""
    nodes = graph.nodes
    bit = {name: 1 << i for i, name in enumerate(nodes)}
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for name, node in nodes.items():
        for child in node.out_funcs:
            if child in preds and child != name:
                preds[child].append(name)
    masks: dict[str, int] = {}
    for name in _topological(nodes):
        acc = 0
        for p in preds[name]:
            acc |= bit[p] | masks.get(p, 0)
        masks[name] = acc
    return bit, masks


def _topological(nodes: dict[str, GraphNode]) -> list[str]:
    indegree = {n: 0 for n in nodes}
    for node in nodes.values():
        for child in set(node.out_funcs):
            if child in indegree and child != node.name:
                indegree[child] += 1
    ready = [n for n in nodes if indegree[n] == 0]
    out: list[str] = []
    while ready:
        name = ready.pop()
        out.append(name)
        for child in set(nodes[name].out_funcs):
            if child in indegree and child != name:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
    return out


def _undefined_artifacts(report: _Report, flow: Flow, graph: FlowGraph) -> None:
    if flow.unresolved_bases:
        return  # a base class we cannot read may define anything
    known = set(metaflow_table()["flowspec_attributes"]) | {"name", "input", "index"}
    known |= flow.class_attributes
    known |= {p.attribute for p in flow.parameters}
    known |= set(flow.steps)
    steps = flow.steps
    bit, masks = _ancestor_masks(graph)
    writers: dict[str, int] = {}
    dynamic = 0
    for name, step in steps.items():
        for artifact in step.write_names:
            writers[artifact] = writers.get(artifact, 0) | bit[name]
        if step.dynamic_writes:
            dynamic |= bit[name]
    for step in flow.own_steps:
        if step.name not in steps or steps[step.name] is not step:
            continue
        lineage = masks.get(step.name, 0) | bit[step.name]
        if lineage & dynamic:
            continue
        missing = {
            n
            for n in step.read_names
            if n not in known and not n.startswith("__") and not writers.get(n, 0) & lineage
        }
        if not missing:
            continue
        for ref in step.reads:
            if ref.name in missing:
                report.add(
                    "undefined-artifact",
                    f"Artifact {ref.name} is read in step {step.name} but no step before it "
                    f"assigns it (self.{ref.name} = ...), and it is not a Parameter or an "
                    "attribute of the flow.",
                    ref.range,
                    severity="warning",
                    file=step.source_file,
                )
