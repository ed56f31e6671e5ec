"""The flow model read from source: steps, ranges, artifacts, parameters, half-typed code."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from metaflow_lsp.flow.analysis import Analyzer
from metaflow_lsp.flow.model import FlowFile, Range

FLOW = textwrap.dedent(
    '''\
    import metaflow as mf
    from metaflow import Parameter, Config as Cfg


    class TrainFlow(mf.FlowSpec):
        """Trains."""

        alpha = Parameter("alpha", default=0.5, help="Learning rate.")
        cfg = Cfg("cfg", default="cfg.json")

        @mf.retry(times=2)
        @mf.step
        def start(self):
            """Begin."""
            self.rows, self.cols = 1, 2
            self.total: int = 0
            self.total += self.rows
            self.next(
                self.train,  # a comment with self.next(self.nowhere)
                foreach="rows",
            )

        @mf.step
        def train(self):
            s = "self.next(self.nowhere)"
            self.model = self.input * self.alpha
            self.next(self.join)

        @mf.step
        def join(self, inputs):
            self.models = [i.model for i in inputs]
            self.next(self.end)

        @mf.step
        def end(self):
            print(self.models, self.cfg)
    '''
)


def analyze(text: str, tmp_path: Path, name: str = "flow_under_test.py") -> FlowFile:
    path = tmp_path / name
    path.write_text(text)
    return Analyzer([str(tmp_path)]).analyze(str(path), text)


def test_steps_decorators_and_transitions(tmp_path: Path) -> None:
    flow_file = analyze(FLOW, tmp_path)
    assert not flow_file.diagnostics
    (flow,) = flow_file.flows
    assert flow.name == "TrainFlow" and flow.doc == "Trains."
    assert list(flow.steps) == ["end", "join", "start", "train"]  # Metaflow's (sorted) order
    start = flow.steps["start"]
    assert start.name_range == Range.of(13, 8, 13, 13)
    assert start.def_line == 13
    assert start.range.start.line == 11 and start.range.end.line == 21
    assert [d.name for d in start.decorators] == ["retry"]
    assert (
        start.decorators[0].values == {"times": 2}
        and start.decorators[0].text == "mf.retry(times=2)"
    )
    assert start.decorators[0].range == Range.of(11, 4, 11, 22)
    assert start.doc == "Begin."
    tail = start.tail
    assert (
        tail is not None
        and tail.kind == "foreach"
        and tail.foreach == "rows"
        and tail.targets == ("train",)
    )
    assert tail.range.start == start.tail.range.start and tail.range.start.line == 18
    assert tail.target_ranges == (Range.of(19, 12, 19, 22),)
    assert flow.graph is not None
    assert flow.graph.nodes["start"].matching_join == "join"
    assert flow.graph.nodes["join"].in_funcs == ["train"]


def test_artifacts_written_and_read_with_ranges(tmp_path: Path) -> None:
    flow = analyze(FLOW, tmp_path).flows[0]
    start = flow.steps["start"]
    assert [(w.name, w.range.start.line) for w in start.writes] == [
        ("rows", 15),
        ("cols", 15),
        ("total", 16),
        ("total", 17),
    ]
    assert [(r.name, r.range) for r in start.reads] == [
        ("total", Range.of(17, 13, 17, 18)),
        ("rows", Range.of(17, 27, 17, 31)),
    ]
    train = flow.steps["train"]
    assert {r.name for r in train.reads} == {"input", "alpha"}  # the string is not code
    assert [w.name for w in train.writes] == ["model"]
    assert [r.name for r in flow.steps["end"].reads] == ["models", "cfg"]


def test_parameters_and_configs(tmp_path: Path) -> None:
    flow = analyze(FLOW, tmp_path).flows[0]
    assert [(p.attribute, p.name, p.kind, p.default, p.help) for p in flow.parameters] == [
        ("alpha", "alpha", "Parameter", "0.5", "Learning rate."),
        ("cfg", "cfg", "Config", '"cfg.json"', None),
    ]
    assert flow.parameters[0].range == Range.of(8, 4, 8, 9)


def test_undefined_artifact_is_a_warning_on_the_read(tmp_path: Path) -> None:
    text = FLOW.replace("print(self.models, self.cfg)", "print(self.modelz)")
    diagnostics = analyze(text, tmp_path).diagnostics
    assert [(d.code, d.severity, d.range) for d in diagnostics] == [
        ("undefined-artifact", "warning", Range.of(36, 19, 36, 25))
    ]


def test_half_typed_step_gives_a_syntax_error_and_keeps_the_rest(tmp_path: Path) -> None:
    text = FLOW.replace("self.model = self.input * self.alpha", "self.model = self.input * (")
    flow_file = analyze(text, tmp_path)
    codes = [(d.code, d.range.start.line) for d in flow_file.diagnostics]
    assert codes[0][0] == "syntax-error"
    # No cascade: the other steps keep their transitions, and nothing else is reported.
    assert [c for c, _ in codes] == ["syntax-error"]
    flow = flow_file.flows[0]
    assert flow.steps["train"].syntax_error is not None
    assert flow.steps["start"].tail is not None and flow.steps["join"].tail is not None


def test_every_error_at_once_and_a_cycle_terminates(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        from metaflow import FlowSpec, step

        class LoopFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.b)

            @step
            def b(self):
                self.next(self.a)

            @step
            def c(self):
                self.next(self.missing)

            @step
            def end(self):
                pass
        """
    )
    started = time.perf_counter()
    diagnostics = analyze(text, tmp_path).diagnostics
    assert time.perf_counter() - started < 5
    assert sorted({(d.code, d.range.start.line) for d in diagnostics}) == [
        ("cycle", 10),
        ("cycle", 14),
        ("unknown-step", 18),
        ("unreachable-step", 17),
        ("unreachable-step", 21),
    ]


def test_steps_inherited_from_another_workspace_module(tmp_path: Path) -> None:
    (tmp_path / "base_steps.py").write_text(
        textwrap.dedent(
            """\
            from metaflow import FlowSpec, step

            class Base(FlowSpec):
                @step
                def start(self):
                    self.next(self.end)

                @step
                def end(self):
                    pass
            """
        )
    )
    text = textwrap.dedent(
        """\
        from base_steps import Base
        from metaflow import step

        class Child(Base):
            @step
            def end(self):
                print("overridden")
        """
    )
    flow_file = analyze(text, tmp_path, "child_flow.py")
    (flow,) = flow_file.flows
    assert not flow_file.diagnostics
    assert flow.steps["start"].source_file == str(tmp_path / "base_steps.py")
    assert flow.steps["start"].inherited_from == "Base"
    assert flow.steps["end"].source_file == str(tmp_path / "child_flow.py")
    assert flow.steps["end"].def_line == 6


def test_non_ascii_text_keeps_code_point_columns(tmp_path: Path) -> None:
    text = FLOW.replace('s = "self.next(self.nowhere)"', 's = "héllo wörld 🎉"; self.z = 1')
    flow = analyze(text, tmp_path).flows[0]
    (write_z,) = [w for w in flow.steps["train"].writes if w.name == "z"]
    line = text.split("\n")[write_z.range.start.line - 1]
    assert line[write_z.range.start.column : write_z.range.end.column] == "z"


def test_any_expression_after_at_is_a_decorator(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        from metaflow import FlowSpec, step

        decos = [step]

        class DecoFlow(FlowSpec):
            @decos[0]
            @step
            def start(self):
                self.next(self.end)

            @ste@stepp
            @step
            def end(self):
                pass
        """
    )
    flow_file = analyze(text, tmp_path)
    assert not flow_file.diagnostics
    end = flow_file.flows[0].steps["end"]
    assert [d.text for d in end.decorators] == ["ste@stepp"]
    assert end.decorators[0].range == Range.of(11, 4, 11, 14)
