from metaflow import FlowSpec, step


class SplitTwoFlow(FlowSpec):
    """A static split into two branches, joined with merge_artifacts."""

    @step
    def start(self):
        self.shared = "s"
        self.next(self.left, self.right)

    @step
    def left(self):
        self.left_value = 1
        self.next(self.join)

    @step
    def right(self):
        self.right_value = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        print(self.shared, self.left_value, self.right_value)


if __name__ == "__main__":
    SplitTwoFlow()
