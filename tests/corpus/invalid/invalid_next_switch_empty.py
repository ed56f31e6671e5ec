from metaflow import FlowSpec, step


class InvalidNextSwitchEmptyFlow(FlowSpec):
    @step
    def start(self):
        self.mode = "x"
        self.next({}, condition="mode")

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNextSwitchEmptyFlow()
