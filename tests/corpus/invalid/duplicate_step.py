from metaflow import FlowSpec, step


class DuplicateStepFlow(FlowSpec):
    """Python keeps only the second train; Metaflow silently uses it."""

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.model = "first"
        self.next(self.end)

    @step
    def train(self):  # expect: duplicate-step
        self.model = "second"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DuplicateStepFlow()

# metaflow-accepts: Python keeps only the second def, and Metaflow checks and runs it silently.
