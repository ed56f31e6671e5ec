from metaflow import FlowSpec, step

FAST = "fast"


class InvalidNextSwitchVariableKeyFlow(FlowSpec):
    @step
    def start(self):
        self.mode = FAST
        self.next({FAST: self.a, "slow": self.end}, condition="mode")  # expect: invalid-next

    @step
    def a(self):  # expect: unreachable-step
        self.next(self.end)

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    InvalidNextSwitchVariableKeyFlow()
