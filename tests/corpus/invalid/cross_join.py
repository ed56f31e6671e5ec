from metaflow import FlowSpec, step


class CrossJoinFlow(FlowSpec):
    """shared is a branch of two different splits, so join mixes their lineages."""

    @step
    def start(self):
        self.next(self.left, self.shared)

    @step
    def left(self):
        self.next(self.shared, self.inner)

    @step
    def inner(self):
        self.next(self.join)

    @step
    def shared(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # expect: cross-join, join-path-mismatch
        self.next(self.end)

    @step
    def end(self):  # expect: end-before-join
        pass


if __name__ == "__main__":
    CrossJoinFlow()
