from metaflow import FlowSpec, step


class UnreachableStepFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def forgotten(self):  # expect: unreachable-step
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnreachableStepFlow()
