from metaflow import FlowSpec, step


class UndefinedArtifactSiblingFlow(FlowSpec):
    """left reads an artifact that only its sibling branch assigns."""

    @step
    def start(self):
        self.shared = 0
        self.next(self.left, self.right)

    @step
    def left(self):
        print(self.shared, self.right_only)  # expect: undefined-artifact
        self.next(self.join)

    @step
    def right(self):
        self.right_only = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.right_only)


if __name__ == "__main__":
    UndefinedArtifactSiblingFlow()
