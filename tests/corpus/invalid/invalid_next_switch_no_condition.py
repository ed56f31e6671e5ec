from metaflow import FlowSpec, step


class InvalidNextSwitchNoConditionFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.route)

    @step
    def route(self):
        self.next({"a": self.a, "b": self.end})  # expect: invalid-next

    @step
    def a(self):  # expect: unreachable-step
        self.next(self.end)

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    InvalidNextSwitchNoConditionFlow()
