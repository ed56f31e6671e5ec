"""Print Metaflow's Client view of a flow's runs as JSON (run from the workspace directory)."""

import json
import sys

from metaflow import Flow, namespace
from metaflow.cards import get_cards
from metaflow.plugins.cards.exception import CardNotPresentException


def ts(value):
    return value.timestamp() if value is not None else None


def cards_of(task):
    try:
        return sorted([c.type, c.hash, c.id] for c in get_cards(task))
    except CardNotPresentException:
        return []


def main(flow_name):
    namespace(None)
    out = []
    for run in Flow(flow_name).runs():
        steps = {}
        for step in run:
            tasks = {}
            for task in step:
                tasks[task.id] = {
                    "attempt": task.current_attempt,
                    "successful": task.successful,
                    "finished": task.finished,
                    "created_at": ts(task.created_at),
                    "finished_at": ts(task.finished_at),
                    "index": task.index,
                    "artifacts": {a.id: a.sha for a in task},
                    "stdout": [line for _, line in task.loglines("stdout")],
                    "stderr": [line for _, line in task.loglines("stderr")],
                    "origin_task_id": task.metadata_dict.get("origin-task-id"),
                    "cards": cards_of(task),
                }
            steps[step.id] = tasks
        out.append(
            {
                "id": run.id,
                "successful": run.successful,
                "finished": run.finished,
                "created_at": ts(run.created_at),
                "finished_at": ts(run.finished_at),
                "user_tags": sorted(run.user_tags),
                "system_tags": sorted(run.system_tags),
                "origin_pathspec": run.origin_pathspec,
                "steps": steps,
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
