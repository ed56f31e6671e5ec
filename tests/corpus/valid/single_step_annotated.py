from metaflow import FlowSpec, step


class SingleStepAnnotatedFlow(FlowSpec):
    @step(start=True, end=True)
    def only(self):
        """The one and only step."""
        self.answer = 42


if __name__ == "__main__":
    SingleStepAnnotatedFlow()
