from metaflow import FlowSpec, step


class UndefinedArtifactDownstreamFlow(FlowSpec):
    """The artifact is only assigned after the step that reads it."""

    @step
    def start(self):
        total = self.result * 2  # expect: undefined-artifact
        print(total)
        self.next(self.compute)

    @step
    def compute(self):
        self.result = 21
        self.next(self.end)

    @step
    def end(self):
        print(self.result)


if __name__ == "__main__":
    UndefinedArtifactDownstreamFlow()
