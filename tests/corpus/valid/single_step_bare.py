from metaflow import FlowSpec, step


class SingleStepBareFlow(FlowSpec):
    """A flow with exactly one bare @step: it is both start and end."""

    @step
    def run_everything(self):
        self.answer = 42


if __name__ == "__main__":
    SingleStepBareFlow()
