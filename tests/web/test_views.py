"""The web view in a real headless Chromium against real runs: the DAG, the run history, the
timeline, a task's logs, artifacts and cards, hostile values, and navigation by pathspec.
Screenshots go to tests/artifacts/web-*.png."""

from __future__ import annotations

import re
import time

import pytest

from .conftest import HOSTILE, Browser, WebWorkspace

pytestmark = pytest.mark.slow


def edges_of(browser: Browser) -> set[tuple[str, str]]:
    return {
        (e.get_attribute("data-from"), e.get_attribute("data-to"))
        for e in browser.page.query_selector_all("svg.dag path.edge")
    }


def steps_of(browser: Browser) -> set[str]:
    return {n.get_attribute("data-step") for n in browser.page.query_selector_all("svg.dag g.node")}


def assert_nothing_ran(browser: Browser) -> None:
    """The hostile values made no element and ran no script."""
    page = browser.page
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate(
        "Array.from(document.scripts).every(s => s.src.endsWith('/static/app.js'))"
    )
    assert browser.dialogs == []
    assert browser.errors == []


def test_run_history_grouped_by_flow_newest_first(browser: Browser, web_ws: WebWorkspace) -> None:
    page = browser.page
    page.wait_for_selector("section.flow-group[data-flow=WebFlow] tr.run")
    groups = [
        g.get_attribute("data-flow")
        for g in page.query_selector_all("section.flow-group[data-flow]")
    ]
    assert groups == ["SwitchFlow", "WebFlow"]
    rows = page.query_selector_all("section[data-flow=WebFlow] tr.run")
    assert [r.get_attribute("data-run") for r in rows] == [
        web_ws.runs["failed"].split("/")[1],
        web_ws.runs["ok"].split("/")[1],
    ]
    assert [r.get_attribute("data-status") for r in rows] == ["failed", "succeeded"]
    assert "tester" in rows[0].inner_text()
    assert re.search(r"\d+(\.\d+)? s", rows[1].inner_text())  # a duration
    assert "ParallelFlow" in page.inner_text("main")  # defined in source, no runs yet
    browser.shot("history")
    # Filters are in the URL and filter on the server.
    page.select_option("select[name=status]", "failed")
    browser.wait_for("location.hash.includes('status=failed')")
    page.wait_for_selector("[data-rendered=home]")
    browser.wait_for("document.querySelectorAll('section[data-flow=WebFlow] tr.run').length === 1")
    assert page.get_attribute("section[data-flow=WebFlow] tr.run", "data-status") == "failed"
    page.wait_for_selector("section[data-flow=SwitchFlow] .table-status p")
    browser.goto("#/?user=nobody")
    page.wait_for_selector("section[data-flow=WebFlow] .table-status p")
    assert page.query_selector_all("tr.run") == []


def test_dag_of_a_foreach_flow_before_and_with_a_run(
    browser: Browser, web_ws: WebWorkspace
) -> None:
    page = browser.page
    browser.goto("#/WebFlow")
    page.wait_for_selector(".dag-box[data-rendered=dag]")
    assert steps_of(browser) == {"start", "train", "join", "report", "end"}
    assert edges_of(browser) == {
        ("start", "train"),
        ("train", "join"),
        ("join", "report"),
        ("report", "end"),
    }
    group = page.query_selector("g.group-foreach[data-group=start]")
    assert group is not None
    assert "foreach items" in page.text_content("svg.dag")
    # Docstrings and decorators on hover.
    page.hover("g.node[data-step=train]")
    tip = page.inner_text(".dag-tooltip")
    assert "@retry(times=1" in tip and "Train on one item." in tip
    browser.shot("dag-source")

    browser.goto(f"#/{web_ws.runs['failed']}")
    page.wait_for_selector(".run-body[data-rendered=dag]")
    status = {
        n.get_attribute("data-step"): n.get_attribute("data-status")
        for n in page.query_selector_all("svg.dag g.node")
    }
    assert status == {
        "start": "succeeded",
        "train": "failed",
        "join": "not-run",
        "report": "not-run",
        "end": "not-run",
    }
    assert "foreach items · 3 tasks" in page.text_content("svg.dag")
    browser.shot("dag-failed-run")
    # Clicking a step in a browser shows its details and tasks.
    page.click("g.node[data-step=train]")
    page.wait_for_selector("aside.step-panel[data-step=train]")
    panel = page.inner_text("aside.step-panel")
    assert "Train on one item." in panel and "3 tasks" in panel
    assert page.evaluate("location.hash").startswith(f"#/{web_ws.runs['failed']}/train")


def test_dag_of_a_switch_flow_and_a_parallel_flow(browser: Browser, web_ws: WebWorkspace) -> None:
    page = browser.page
    browser.goto(f"#/{web_ws.runs['switch']}")
    page.wait_for_selector(".run-body[data-rendered=dag]")
    assert steps_of(browser) == {"start", "quick", "thorough", "end"}
    assert edges_of(browser) == {
        ("start", "quick"),
        ("start", "thorough"),
        ("quick", "end"),
        ("thorough", "end"),
    }
    labels = {t.text_content() for t in page.query_selector_all("g.edge-label text")}
    assert labels == {"fast", "slow"}
    assert page.get_attribute("g.node[data-step=quick]", "data-status") == "succeeded"
    assert page.get_attribute("g.node[data-step=thorough]", "data-status") == "not-run"
    browser.shot("dag-switch")
    # Dark when the browser is.
    page.emulate_media(color_scheme="dark")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
    browser.shot("dag-switch-dark")
    page.emulate_media(color_scheme="light")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"

    browser.goto("#/ParallelFlow")
    page.wait_for_selector(".dag-box[data-rendered=dag]")
    assert edges_of(browser) == {("start", "train"), ("train", "join"), ("join", "end")}
    assert page.query_selector("g.node-parallel-step[data-step=train] .node-shadow") is not None
    assert page.query_selector("g.group-parallel[data-group=start]") is not None
    assert "@parallel × 4" in page.text_content("svg.dag")
    browser.shot("dag-parallel")


def test_timeline_shows_every_task(browser: Browser, web_ws: WebWorkspace) -> None:
    page = browser.page
    tasks = web_ws.tasks("ok")
    browser.goto(f"#/{web_ws.runs['ok']}?view=timeline")
    page.wait_for_selector(".timeline[data-rendered=timeline]")
    total = sum(len(ids) for ids in tasks.values())
    assert page.get_attribute(".timeline", "data-tasks") == str(total)
    shown = {a.get_attribute("data-task") for a in page.query_selector_all("a.tl-task")}
    assert shown == {f"{step}/{task}" for step, ids in tasks.items() for task in ids}
    # The retried task says so; the canvas row under each label is that task.
    retried = [
        a.inner_text() for a in page.query_selector_all("a.tl-task") if "×2" in a.inner_text()
    ]
    assert len(retried) == 1
    plot = page.query_selector("canvas.tl-plot").bounding_box()
    for label in page.query_selector_all("a.tl-task"):
        box = label.bounding_box()
        page.mouse.move(plot["x"] + plot["width"] / 2, box["y"] + box["height"] / 2)
        tip = page.inner_text(".tl-tooltip")
        assert f"/{label.get_attribute('data-task')}" in tip
    browser.shot("timeline")
    # Failed tasks are marked.
    browser.goto(f"#/{web_ws.runs['failed']}?view=timeline")
    page.wait_for_selector(".timeline[data-rendered=timeline]")
    failed = page.query_selector_all("a.tl-task[data-status=failed]")
    assert len(failed) == 1 and page.get_attribute(".timeline", "data-failed") == "2"
    page.click("label:has-text('failed tasks only') input")
    browser.wait_for("document.querySelectorAll('a.tl-task').length === 2")
    browser.shot("timeline-failed")


def test_failed_task_log_and_hostile_values_render_as_text(
    browser: Browser, web_ws: WebWorkspace
) -> None:
    page = browser.page
    c_task = web_ws.tasks("failed")["train"][2]
    browser.goto(f"#/{web_ws.runs['failed']}/train/{c_task}")
    page.wait_for_selector("[data-rendered=task]")
    page.wait_for_selector(".log[data-stream=stderr] .log-line")
    log = page.inner_text(".log")
    assert "ValueError: train failed on purpose" in log
    assert HOSTILE in log
    assert page.get_attribute(".run-header", "data-status") == "failed"
    assert "#1 failed" in page.inner_text(".run-header")
    page.fill("input[aria-label='search the log']", "ValueError")
    browser.wait_for("document.querySelectorAll('.log-line').length < 6")
    assert page.query_selector(".log mark") is not None
    browser.shot("task-failed-log")
    assert_nothing_ran(browser)

    (start,) = web_ws.tasks("ok")["start"]
    browser.goto(f"#/{web_ws.runs['ok']}/start/{start}?tab=artifacts")
    page.wait_for_selector("tr.artifact[data-name=hostile]")
    assert HOSTILE in page.inner_text("tr.artifact[data-name=hostile]")
    page.click("tr.artifact[data-name=hostile] button")
    page.wait_for_selector(".artifact-full pre.value")
    assert HOSTILE in page.inner_text(".artifact-full")
    browser.goto(f"#/{web_ws.runs['ok']}/start/{start}?tab=logs&stream=stdout")
    page.wait_for_selector(".log[data-stream=stdout] .log-line")
    assert "hostile line: " + HOSTILE in page.inner_text(".log")
    browser.shot("task-hostile")
    assert_nothing_ran(browser)


def test_cards_load_in_a_sandboxed_frame(browser: Browser, web_ws: WebWorkspace) -> None:
    page = browser.page
    (task,) = web_ws.tasks("ok")["report"]
    pathspec = f"{web_ws.runs['ok']}/report/{task}"
    browser.goto(f"#/{pathspec}?tab=cards")
    frame_el = page.wait_for_selector("iframe.card")
    assert frame_el.get_attribute("sandbox") == "allow-scripts"
    frame = frame_el.content_frame()
    assert frame is not None
    # The card's own scripts ran (it draws the task's pathspec) ...
    deadline = time.monotonic() + 30
    while not frame.evaluate(f"!!document.body && document.body.innerText.includes({pathspec!r})"):
        assert time.monotonic() < deadline, "the card did not draw its task's pathspec"
        time.sleep(0.1)
    # ... in an opaque origin: no cookie (the token), no parent, no editor.
    assert frame.evaluate("window.origin") == "null"
    assert (
        frame.evaluate(
            "(() => { try { return document.cookie } catch (e) { return 'blocked' } })()"
        )
        == "blocked"
    )
    assert (
        frame.evaluate(
            "(() => { try { return window.parent.document.title } catch (e) { return 'blocked' } })()"
        )
        == "blocked"
    )
    assert frame.evaluate("typeof acquireVsCodeApi") == "undefined"
    browser.shot("card")


def test_navigation_by_pathspec_in_the_url(browser: Browser, web_ws: WebWorkspace) -> None:
    page = browser.page
    (end,) = web_ws.tasks("ok")["end"]
    target = f"{web_ws.runs['ok']}/end/{end}"
    page.fill("input.pathspec-input", target)
    page.press("input.pathspec-input", "Enter")
    page.wait_for_selector("[data-rendered=task]")
    assert page.evaluate("location.hash") == f"#/{target}"
    crumbs = page.inner_text("nav.crumbs")
    assert "WebFlow" in crumbs and "end" in crumbs
    # The URL reopens the same view (the token is in the cookie now).
    page.reload()
    page.wait_for_selector("[data-rendered=task]")
    assert target in page.inner_text(".run-header")
    # An unknown run shows an error in the panel, not a blank page.
    browser.goto("#/WebFlow/123")
    page.wait_for_selector(".error")
    assert "WebFlow/123" in page.inner_text(".error")
    browser.shot("error")
