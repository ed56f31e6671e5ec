"""A foreach and a parameter: the VS Code extension's tests run it for real."""

from metaflow import FlowSpec, Parameter, step


class RelayFlow(FlowSpec):
    """Double each item, then sum."""

    scale = Parameter("scale", type=int, default=2, help="The factor.")

    @step
    def start(self):
        """Make the items."""
        self.items = [1, 2]
        self.next(self.double, foreach="items")

    @step
    def double(self):
        """Scale one item."""
        self.value = self.input * self.scale
        print("doubled", self.value)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Sum them."""
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        """Done."""
        print("total", self.total)


if __name__ == "__main__":
    RelayFlow()
