from metaflow import FlowSpec, step


class UnknownStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.finish)  # expect: unknown-step

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    UnknownStepFlow()
