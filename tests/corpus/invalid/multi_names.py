from metaflow import FlowSpec, step


class MultiNamesFlow(FlowSpec):
    """Several naming errors at once."""

    @step
    def start(self):
        self.next(self.name)

    @step
    def name(self):  # expect: reserved-step-name
        self.next(self.Load)

    @step
    def Load(self):  # expect: invalid-step-name
        self.next(self._hidden)

    @step
    def _hidden(self):  # expect: invalid-step-name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MultiNamesFlow()
