from metaflow import FlowSpec, step


class InvalidStepNameUnderscoreFlow(FlowSpec):
    @step
    def start(self):
        self.next(self._prepare)

    @step
    def _prepare(self):  # expect: invalid-step-name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidStepNameUnderscoreFlow()
