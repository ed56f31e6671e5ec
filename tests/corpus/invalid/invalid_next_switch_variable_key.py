from metaflow import FlowSpec, step

FAST = "fast"


class InvalidNextSwitchVariableKeyFlow(FlowSpec):
    @step
    def start(self):
        self.mode = FAST
        self.next({FAST: self.a, "slow": self.end}, condition="mode")

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNextSwitchVariableKeyFlow()
