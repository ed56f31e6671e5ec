"""Generate large, valid Metaflow flows for benchmarks: linear runs, static splits and foreaches."""

from __future__ import annotations


def generate(target_lines: int, body_lines: int = 10, splits: int = 8) -> str:
    """A valid flow of about `target_lines` lines, with steps of about `body_lines + 6` lines.

    Splits and foreaches alternate `splits` times in all: Metaflow's own graph walk visits
    every path, so sequential splits cost it 2**splits walks.
    """
    per_step = body_lines + 6
    n_steps = max(3, target_lines // per_step)
    period = max(10, n_steps // max(1, splits))
    out = [
        "from metaflow import FlowSpec, Parameter, card, retry, step",
        "",
        "",
        "class BigFlow(FlowSpec):",
        '    """A generated flow for benchmarks."""',
        "",
        '    alpha = Parameter("alpha", default=1, help="A number.")',
        "",
        "    @step",
        "    def start(self):",
        '        """Start."""',
        "        self.x0 = 0",
        "        self.items = list(range(3))",
        "        self.next(self.s1)",
        "",
    ]

    def body(i: int) -> list[str]:
        return [
            f"        self.v{i}_{j} = self.x0 + {j} * len(str(self.alpha))  # step {i}, line {j}"
            for j in range(body_lines)
        ]

    i = 1
    while i <= n_steps:
        last = i + 3 > n_steps
        if not last and i % period == 0:
            # A static split in two branches and its join: four steps.
            out += [
                "    @step",
                f"    def s{i}(self):",
                *body(i),
                f"        self.next(self.s{i}a, self.s{i}b)",
                "",
            ]
            for branch in ("a", "b"):
                out += [
                    "    @retry(times=2)",
                    "    @step",
                    f"    def s{i}{branch}(self):",
                    *body(i),
                    f"        self.next(self.s{i}j)",
                    "",
                ]
            out += [
                "    @step",
                f"    def s{i}j(self, inputs):",
                "        self.merge_artifacts(inputs)",
                f"        self.next(self.s{i + 1})",
                "",
            ]
            i += 1
            continue
        if not last and i % period == period // 2:
            out += [
                "    @step",
                f"    def s{i}(self):",
                *body(i),
                f'        self.next(self.s{i}f, foreach="items")',
                "",
            ]
            out += [
                "    @card",
                "    @step",
                f"    def s{i}f(self):",
                "        self.item = self.input",
                f"        self.next(self.s{i}j)",
                "",
            ]
            out += [
                "    @step",
                f"    def s{i}j(self, inputs):",
                "        self.merge_artifacts(inputs, exclude=['item'])",
                f"        self.next(self.s{i + 1})",
                "",
            ]
            i += 1
            continue
        nxt = f"s{i + 1}" if i < n_steps else "end"
        out += [
            "    @step",
            f"    def s{i}(self):",
            f'        """Step {i}."""',
            *body(i),
            f"        self.next(self.{nxt})",
            "",
        ]
        i += 1
    out += [
        "    @step",
        "    def end(self):",
        '        """End."""',
        "        print(self.x0)",
        "",
        "",
        'if __name__ == "__main__":',
        "    BigFlow()",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    print(generate(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
