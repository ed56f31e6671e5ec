from metaflow import FlowSpec, step


class MultiSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.left, self.right)

    @step
    def left(self):  # expect: switch-too-few-cases
        self.k = "go"
        self.next({"go": self.join}, condition="k")

    @step
    def right(self):
        self.k = "a"
        self.next({"a": self.join, "b": self.join}, condition="k")

    @step
    def join(self, inputs):  # expect: switch-to-join
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MultiSwitchFlow()
