from metaflow import FlowSpec, step


class InvalidNextSwitchEmptyFlow(FlowSpec):
    @step
    def start(self):
        self.mode = "x"
        self.next({}, condition="mode")  # expect: invalid-next

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    InvalidNextSwitchEmptyFlow()
