from metaflow import FlowSpec, step


class InvalidNextSwitchNoConditionFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.route)

    @step
    def route(self):
        self.next({"a": self.a, "b": self.end})

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNextSwitchNoConditionFlow()
