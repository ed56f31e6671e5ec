"""Regenerate the table of Metaflow's built-in step decorators (names and default attributes).

The server never imports Metaflow; it reads this table to print decorator attributes the way
`python flow.py output-raw --json` does. Run with the pinned metaflow installed:

    python scripts/gen_decorator_table.py > server/metaflow_lsp/flow/data/metaflow_decorators.json
"""

import json

import metaflow
from metaflow import FlowSpec
from metaflow.plugins import FLOW_DECORATORS, STEP_DECORATORS
from metaflow.util import to_pod


def main() -> None:
    table = {
        "metaflow_version": metaflow.__version__,
        "step": {
            d.name: {
                "defaults": to_pod(d.defaults),
                "allow_multiple": bool(d.allow_multiple),
                "is_parallel": bool(getattr(d, "IS_PARALLEL", False)),
            }
            for d in STEP_DECORATORS
        },
        "flow": {
            d.name: {"defaults": to_pod(d.defaults), "allow_multiple": bool(d.allow_multiple)}
            for d in FLOW_DECORATORS
        },
        # Attributes every flow has without assigning them (self.input, self.index, ...).
        "flowspec_attributes": sorted(n for n in dir(FlowSpec) if not n.startswith("__")),
    }
    print(json.dumps(table, indent=2, sort_keys=False))


if __name__ == "__main__":
    main()
