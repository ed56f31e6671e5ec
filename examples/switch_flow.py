"""Route a run to one of two steps at run time: a switch (Metaflow 2.18+)."""

from metaflow import FlowSpec, Parameter, step


class SwitchFlow(FlowSpec):
    """Pick a path from a Parameter."""

    mode = Parameter("mode", default="fast", help="fast or thorough")

    @step
    def start(self):
        """Decide which way to go."""
        self.route = "fast" if self.mode == "fast" else "slow"
        self.next({"fast": self.quick, "slow": self.thorough}, condition="route")

    @step
    def quick(self):
        """The quick path."""
        self.result = "quick result"
        self.next(self.end)

    @step
    def thorough(self):
        """The thorough path."""
        self.result = "thorough result"
        self.next(self.end)

    @step
    def end(self):
        """Report."""
        print(self.result)


if __name__ == "__main__":
    SwitchFlow()
