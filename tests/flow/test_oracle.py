"""Oracle tests: our CLI against Metaflow's own `output-raw --json` and `check` on tests/corpus.

Corpus layout (see tests/corpus/README.md):
  valid/     flows Metaflow accepts; our `graph --json` must equal Metaflow's `output-raw --json`
  invalid/   flows Metaflow rejects; our `check --json` must report Metaflow's first error, and
             exactly the diagnostics annotated with `# expect: CODE` / `# expect-file: CODE`
  warnings/  flows Metaflow accepts but we warn about (annotated the same way)
  syntax/    half-typed files that do not parse (annotated the same way)

Markers in corpus files (comments):
  # metaflow-env: K=V ...    environment for both Metaflow and us (e.g. an S3 datastore for @batch)
  # metaflow-hangs           Metaflow's check never finishes: don't run it, only check we finish in 10 s
  # metaflow-crashes         Metaflow's check dies with a traceback instead of a lint message
  # metaflow-accepts         an invalid/ file whose error only we detect (Metaflow's check passes)
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
METAFLOW_TIMEOUT = 60
OURS_TIMEOUT = 60
OURS_TIMEOUT_WHERE_METAFLOW_HANGS = 10

EXPECT_RE = re.compile(r"#\s*expect:\s*([a-z][a-z0-9-]*(?:\s*,\s*[a-z][a-z0-9-]*)*)")
EXPECT_FILE_RE = re.compile(r"#\s*expect-file:\s*([a-z][a-z0-9-]*(?:\s*,\s*[a-z][a-z0-9-]*)*)")
ENV_RE = re.compile(r"^\s*#\s*metaflow-env:\s*(.*)$")
CHECK_RE = re.compile(
    r"Validity checker found an issue(?: in file (?P<file>.+?))?(?: on line (?P<line>\d+))?:\n"
    r"(?P<message>.*)",
    re.S,
)

DIAGNOSTIC_KEYS = {
    "file",
    "line",
    "column",
    "end_line",
    "end_column",
    "severity",
    "code",
    "message",
}


# --------------------------------------------------------------------------- corpus files


def corpus_files(*kinds: str) -> list[Path]:
    """Every .py file of the given corpus directories, sorted by kind then name."""
    return [p for kind in kinds for p in sorted((CORPUS / kind).glob("*.py"))]


def ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@dataclass(frozen=True)
class Annotations:
    """What a corpus file says about itself in comments."""

    expected: frozenset[tuple[int, str]]  # (1-based line, code) from `# expect:`
    expected_file_codes: frozenset[str]  # codes from `# expect-file:` (matched by code only)
    env: dict[str, str] = field(default_factory=dict, hash=False)
    hangs: bool = False
    crashes: bool = False
    accepts: bool = False


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def parse_annotations(text: str) -> Annotations:
    """Read `# expect:`, `# expect-file:`, `# metaflow-env:` and marker comments from a corpus file."""
    expected: set[tuple[int, str]] = set()
    file_codes: set[str] = set()
    env: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if "#" not in line:
            continue
        for m in EXPECT_RE.finditer(line):
            expected.update((lineno, code) for code in _codes(m.group(1)))
        for m in EXPECT_FILE_RE.finditer(line):
            file_codes.update(_codes(m.group(1)))
        m = ENV_RE.match(line)
        if m:
            for pair in m.group(1).split():
                key, _, value = pair.partition("=")
                env[key] = value
    return Annotations(
        expected=frozenset(expected),
        expected_file_codes=frozenset(file_codes),
        env=env,
        hangs="# metaflow-hangs" in text,
        crashes="# metaflow-crashes" in text,
        accepts="# metaflow-accepts" in text,
    )


def annotations_of(path: Path) -> Annotations:
    return parse_annotations(path.read_text(encoding="utf-8"))


def test_parse_annotations() -> None:
    text = (
        "class F(FlowSpec):  # expect-file: missing-start, missing-end\n"
        "    def a(self):  # expect: missing-next\n"
        "        self.next(self.b)  # expect: cycle, unknown-step\n"
        "# metaflow-env: A=1 B=x=y\n"
        "# metaflow-hangs\n"
    )
    ann = parse_annotations(text)
    assert ann.expected == {(2, "missing-next"), (3, "cycle"), (3, "unknown-step")}
    assert ann.expected_file_codes == {"missing-start", "missing-end"}
    assert ann.env == {"A": "1", "B": "x=y"}
    assert ann.hangs and not ann.crashes and not ann.accepts


def test_normalise_message() -> None:
    printed = "Step join seems like a join step (it takes an extra input\n    argument) but an incorrect number of steps (b, a) lead to it."
    ours = "Step *join* seems like a join step (it takes an extra input argument) but an incorrect number of steps (*a, b*) lead to it."
    assert normalise_message(printed) == normalise_message(ours)


def normalise_message(message: str) -> str:
    """Drop Metaflow's `*emphasis*` markers and collapse whitespace (its CLI indents wrapped lines).

    Metaflow builds the "incorrect number of steps (...)" list of a join from a set, so its order
    changes from run to run (string hashing): sort that list.
    """
    text = re.sub(r"\s+", " ", message.replace("*", "")).strip()

    def sort_paths(m: re.Match[str]) -> str:
        return m.group(1) + ", ".join(sorted(m.group(2).split(", "))) + m.group(3)

    return re.sub(r"(incorrect number of steps \()([^)]*)(\) lead to it)", sort_paths, text)


# --------------------------------------------------------------------------- running things


@dataclass(frozen=True)
class Completed:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Completed:
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:

        def text(b: Any) -> str:
            return b.decode("utf-8", "replace") if isinstance(b, bytes) else (b or "")

        return Completed(None, text(exc.stdout), text(exc.stderr))
    return Completed(proc.returncode, proc.stdout, proc.stderr)


class Workspace:
    """A private temp copy of the corpus per file (Metaflow writes .metaflow/ into its cwd).

    Metaflow and our CLI run on the same copy, so `source_file` paths must agree exactly.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "metaflow-home"
        self.home.mkdir()
        self._copy_lock = (
            threading.Lock()
        )  # Metaflow's worker threads and the test thread share copies

    def copy_of(self, source: Path) -> Path:
        """Path of `source` inside its own copy of its corpus directory (made on first use)."""
        kind = source.parent.name
        directory = self.root / kind / source.stem
        with self._copy_lock:
            if not directory.exists():
                shutil.copytree(
                    source.parent,
                    directory,
                    ignore=shutil.ignore_patterns("__pycache__", ".metaflow"),
                )
        return directory / source.name

    def env(self, source: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAFLOW_")}
        env.update(
            USERNAME="tester",
            METAFLOW_HOME=str(self.home),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONIOENCODING="utf-8",
        )
        env.update(annotations_of(source).env)
        return env


class MetaflowOracle:
    """Runs Metaflow on the corpus in the background (2 workers) and hands out results on demand."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        self.futures: dict[tuple[Path, str], concurrent.futures.Future[Completed]] = {}
        jobs = [(p, "output-raw") for p in corpus_files("valid")]
        jobs += [(p, "check") for p in corpus_files("valid")]
        jobs += [(p, "check") for p in corpus_files("invalid") if not annotations_of(p).hangs]
        jobs += [(p, "check") for p in corpus_files("warnings")]
        for source, command in jobs:
            self.futures[(source, command)] = self.pool.submit(self._run, source, command)

    def _run(self, source: Path, command: str) -> Completed:
        path = self.workspace.copy_of(source)
        args = ["output-raw", "--json"] if command == "output-raw" else ["--no-pylint", "check"]
        return _run(
            [sys.executable, str(path), *args],
            path.parent,
            self.workspace.env(source),
            METAFLOW_TIMEOUT,
        )

    def result(self, source: Path, command: str) -> Completed:
        future = self.futures[(source, command)]
        if future.cancel():  # not started yet (e.g. under `-k`): run it now instead of queueing
            return self._run(source, command)
        return future.result()

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("oracle-corpus").resolve())


@pytest.fixture(scope="session")
def metaflow(workspace: Workspace) -> Iterator[MetaflowOracle]:
    oracle = MetaflowOracle(workspace)
    yield oracle
    oracle.close()


_ours_cache: dict[tuple[Path, str], Completed] = {}


def run_ours(workspace: Workspace, source: Path, command: str) -> Completed:
    """`python -m metaflow_lsp graph|check FILE --json` on the file's temp copy (cached per session)."""
    key = (source, command)
    if key not in _ours_cache:
        path = workspace.copy_of(source)
        timeout = (
            OURS_TIMEOUT_WHERE_METAFLOW_HANGS if annotations_of(source).hangs else OURS_TIMEOUT
        )
        _ours_cache[key] = _run(
            [sys.executable, "-m", "metaflow_lsp", command, str(path), "--json"],
            path.parent,
            workspace.env(source),
            timeout,
        )
    return _ours_cache[key]


def parse_json_output(result: Completed, who: str) -> Any:
    """JSON printed on stdout (Metaflow prints a banner line first, so start at the first `{`/`[`)."""
    starts = [i for i in (result.stdout.find("{"), result.stdout.find("[")) if i >= 0]
    assert starts, f"{who} printed no JSON.\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(result.stdout[min(starts) :])


def our_diagnostics(workspace: Workspace, source: Path) -> tuple[Completed, list[dict[str, Any]]]:
    result = run_ours(workspace, source, "check")
    assert result.returncode is not None, f"metaflow-lsp check timed out on {source.name}"
    assert result.returncode in (0, 1), (
        f"metaflow-lsp check crashed (exit {result.returncode}):\n{result.stderr}"
    )
    diagnostics = parse_json_output(result, "metaflow-lsp check")
    assert isinstance(diagnostics, list)
    for d in diagnostics:
        assert DIAGNOSTIC_KEYS <= d.keys(), d
    return result, diagnostics


@dataclass(frozen=True)
class MetaflowError:
    line: int | None  # None: Metaflow gave no line (or "line 0", which means the same)
    message: str


def parse_metaflow_check(result: Completed) -> MetaflowError | None:
    """The error Metaflow's `check` printed, or None if it printed no lint error."""
    for stream in (result.stderr, result.stdout):
        m = CHECK_RE.search(stream)
        if m:
            line = int(m.group("line")) if m.group("line") else None
            return MetaflowError(line or None, normalise_message(m.group("message")))
    return None


def describe(diagnostics: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  line {d['line']}: {d['code']} ({d['severity']}): {d['message']}" for d in diagnostics
    )


# --------------------------------------------------------------------------- valid flows

VALID = corpus_files("valid")


@pytest.mark.parametrize("source", VALID, ids=ids(VALID))
def test_metaflow_accepts_valid_flow(metaflow: MetaflowOracle, source: Path) -> None:
    """Guards the corpus itself: every valid/ file passes Metaflow's own check."""
    result = metaflow.result(source, "check")
    assert result.returncode == 0, f"Metaflow rejects {source.name}:\n{result.stderr}"


@pytest.mark.parametrize("source", VALID, ids=ids(VALID))
def test_graph_equals_metaflow_output_raw(
    metaflow: MetaflowOracle, workspace: Workspace, source: Path
) -> None:
    theirs = metaflow.result(source, "output-raw")
    assert theirs.returncode == 0, f"Metaflow output-raw failed:\n{theirs.stderr}"
    ours = run_ours(workspace, source, "graph")
    assert ours.returncode == 0, (
        f"metaflow-lsp graph failed (exit {ours.returncode}):\n{ours.stderr}"
    )
    assert without_deployment_attributes(
        parse_json_output(ours, "metaflow-lsp graph")
    ) == without_deployment_attributes(parse_json_output(theirs, "Metaflow"))


# Metaflow rewrites these decorators' attributes when a step is initialised, from the deployment
# configuration and the interpreter running the flow (image "python:3.11", namespace, string
# values): nothing a reader of the source can know. Their names and places are still compared.
DEPLOYMENT_DECORATORS = {"batch", "kubernetes"}


def without_deployment_attributes(output: Any) -> Any:
    """`output-raw` JSON with the attributes of deployment decorators blanked."""
    for step in output["graph"].values():
        for decorator in step["decorators"]:
            if decorator["name"] in DEPLOYMENT_DECORATORS:
                decorator["attributes"] = "<set by Metaflow at step init>"
    return output


@pytest.mark.parametrize("source", VALID, ids=ids(VALID))
def test_graph_text_identical_to_metaflow(
    metaflow: MetaflowOracle, workspace: Workspace, source: Path
) -> None:
    """Same bytes as `output-raw --json` (json.dumps(indent=4)): key order and escaping included."""
    theirs = metaflow.result(source, "output-raw")
    assert theirs.returncode == 0, f"Metaflow output-raw failed:\n{theirs.stderr}"
    ours = run_ours(workspace, source, "graph")
    assert ours.returncode == 0, (
        f"metaflow-lsp graph failed (exit {ours.returncode}):\n{ours.stderr}"
    )
    their_text = theirs.stdout[theirs.stdout.index("{") :].strip()
    if any(f'"name": "{name}"' in their_text for name in DEPLOYMENT_DECORATORS):
        # Attributes differ by design (see without_deployment_attributes); compare the rest.
        ours_json = without_deployment_attributes(json.loads(ours.stdout))
        theirs_json = without_deployment_attributes(json.loads(their_text))
        assert json.dumps(ours_json, indent=4) == json.dumps(theirs_json, indent=4)
        return
    assert ours.stdout.strip() == their_text


@pytest.mark.parametrize("source", VALID, ids=ids(VALID))
def test_valid_flow_has_no_diagnostics(workspace: Workspace, source: Path) -> None:
    result, diagnostics = our_diagnostics(workspace, source)
    assert diagnostics == [], "unexpected diagnostics:\n" + describe(diagnostics)
    assert result.returncode == 0


# --------------------------------------------------------------------------- invalid flows

INVALID = corpus_files("invalid")
ANNOTATED = corpus_files("invalid", "warnings", "syntax")


@pytest.mark.parametrize("source", INVALID, ids=ids(INVALID))
def test_check_reports_metaflow_error(
    metaflow: MetaflowOracle, workspace: Workspace, source: Path
) -> None:
    """Our check reports the error Metaflow's check prints, on the same line, with the same words."""
    ann = annotations_of(source)
    if ann.hangs:
        pytest.skip("Metaflow's check never finishes on this file (see test_ours_finishes_...)")
    theirs = metaflow.result(source, "check")
    assert theirs.returncode is not None, (
        f"Metaflow's check timed out after {METAFLOW_TIMEOUT} s; mark the file `# metaflow-hangs`"
    )
    error = parse_metaflow_check(theirs)
    if ann.accepts:
        assert theirs.returncode == 0 and error is None, (
            f"Metaflow now rejects a file marked `# metaflow-accepts`:\n{theirs.stderr}"
        )
        return
    if ann.crashes:
        assert theirs.returncode != 0 and error is None and "Traceback" in theirs.stderr, (
            f"Metaflow no longer crashes on a file marked `# metaflow-crashes`:\n{theirs.stderr}"
        )
        _, diagnostics = our_diagnostics(workspace, source)
        assert any(d["severity"] == "error" for d in diagnostics)
        return
    assert theirs.returncode == 1 and error is not None, (
        f"Metaflow did not report a lint error (exit {theirs.returncode}):\n{theirs.stderr}"
    )

    result, diagnostics = our_diagnostics(workspace, source)
    assert result.returncode == 1, "metaflow-lsp check must exit 1 when Metaflow finds an error"
    matching = [
        d
        for d in diagnostics
        if normalise_message(d["message"]) == error.message
        and (error.line is None or d["line"] == error.line)
    ]
    where = f"line {error.line}" if error.line else "any line"
    assert matching, (
        f"Metaflow reports on {where}:\n  {error.message}\nwe report:\n{describe(diagnostics)}"
    )
    assert all(d["severity"] == "error" for d in matching)


@pytest.mark.parametrize("source", ANNOTATED, ids=ids(ANNOTATED))
def test_diagnostics_match_annotations(workspace: Workspace, source: Path) -> None:
    """Exactly the annotated (line, code) pairs; `expect-file` codes match by code, on any line."""
    ann = annotations_of(source)
    assert ann.expected or ann.expected_file_codes, f"{source.name} has no annotations"
    result, diagnostics = our_diagnostics(workspace, source)

    actual = {(d["line"], d["code"]) for d in diagnostics}
    missing_file_codes = ann.expected_file_codes - {code for _, code in actual}
    assert not missing_file_codes, (
        f"missing file-level codes {sorted(missing_file_codes)}; we report:\n{describe(diagnostics)}"
    )
    line_level = {(line, code) for line, code in actual if code not in ann.expected_file_codes}
    assert sorted(line_level) == sorted(ann.expected), "we report:\n" + describe(diagnostics)

    has_error = any(d["severity"] == "error" for d in diagnostics)
    assert result.returncode == (1 if has_error else 0)


WARNINGS = corpus_files("warnings")


@pytest.mark.parametrize("source", WARNINGS, ids=ids(WARNINGS))
def test_metaflow_accepts_warning_flow(metaflow: MetaflowOracle, source: Path) -> None:
    """warnings/ holds only flows Metaflow's check passes: our warnings go beyond Metaflow."""
    result = metaflow.result(source, "check")
    assert result.returncode == 0, f"Metaflow rejects {source.name}:\n{result.stderr}"


@pytest.mark.parametrize("source", WARNINGS, ids=ids(WARNINGS))
def test_warnings_are_not_errors(workspace: Workspace, source: Path) -> None:
    """Flows Metaflow accepts only get warnings from us, and check still exits 0."""
    result, diagnostics = our_diagnostics(workspace, source)
    assert diagnostics
    assert all(d["severity"] == "warning" for d in diagnostics), describe(diagnostics)
    assert result.returncode == 0


HANGS = [p for p in INVALID if annotations_of(p).hangs]


@pytest.mark.parametrize("source", HANGS, ids=ids(HANGS))
def test_ours_finishes_where_metaflow_hangs(workspace: Workspace, source: Path) -> None:
    result = run_ours(workspace, source, "check")
    assert result.returncode is not None, (
        f"metaflow-lsp check took over {OURS_TIMEOUT_WHERE_METAFLOW_HANGS} s on {source.name}"
    )
    assert result.returncode == 1
