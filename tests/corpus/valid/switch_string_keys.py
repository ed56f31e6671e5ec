from metaflow import FlowSpec, step


class SwitchStringKeysFlow(FlowSpec):
    """Route to one of two steps depending on an artifact."""

    @step
    def start(self):
        self.mode = "fast"
        self.next({"fast": self.fast_path, "slow": self.slow_path}, condition="mode")

    @step
    def fast_path(self):
        self.took = 1
        self.next(self.end)

    @step
    def slow_path(self):
        self.took = 10
        self.next(self.end)

    @step
    def end(self):
        print(self.mode)


if __name__ == "__main__":
    SwitchStringKeysFlow()
