from metaflow import FlowSpec, step


class MultiStartEndFlow(FlowSpec):  # expect-file: missing-start, missing-end
    """No step is named start or end and nothing is annotated."""

    @step
    def Begin(self):  # expect: invalid-step-name
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.finish)

    @step
    def finish(self):  # expect: missing-next
        pass


if __name__ == "__main__":
    MultiStartEndFlow()
