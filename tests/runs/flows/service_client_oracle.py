"""Print Metaflow's Client view of a flow's runs recorded by a metadata service, as JSON.

metaflow-local-service 0.2.0 lacks `GET .../tasks/<t>/artifacts/<name>`, which the Client's
`Task.successful`, `finished`, `finished_at`, `index` and `Run.successful` read (`task["_success"]`
answers KeyError), and its `GET .../tasks/<t>/artifacts` returns every attempt's artifacts. So
this oracle reads what those properties stand for through the Client calls that work there:
the latest `attempt_ok` from `Task.metadata_dict`, and the artifacts of `Task(pathspec,
attempt=current_attempt)`, whose values it loads from the datastore.
"""

import json
import sys

from metaflow import Flow, Task, namespace


def ts(value):
    return value.timestamp() if value is not None else None


def main(flow_name):
    namespace(None)
    out = []
    for run in Flow(flow_name).runs():
        steps = {}
        for step in run:
            tasks = {}
            for listed in step:
                task = Task(listed.pathspec, attempt=listed.current_attempt)
                artifacts = list(task)
                tasks[task.id] = {
                    "attempt": task.current_attempt,
                    "attempt_ok": task.metadata_dict.get("attempt_ok"),
                    "created_at": ts(task.created_at),
                    "saved_at": max((ts(a.created_at) for a in artifacts), default=None),
                    "artifacts": {a.id: a.sha for a in artifacts},
                    "values": {a.id: repr(a.data) for a in artifacts},
                    "stdout": [line for _, line in task.loglines("stdout")],
                    "stderr": [line for _, line in task.loglines("stderr")],
                }
            steps[step.id] = tasks
        out.append(
            {
                "id": run.id,
                "created_at": ts(run.created_at),
                "user_tags": sorted(run.user_tags),
                "system_tags": sorted(run.system_tags),
                "steps": steps,
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
