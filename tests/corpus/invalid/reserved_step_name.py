from metaflow import FlowSpec, step


class ReservedStepNameFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.index)

    @step
    def index(self):  # expect: reserved-step-name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ReservedStepNameFlow()
