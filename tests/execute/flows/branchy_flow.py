"""A small flow with a foreach and its join, quick to run."""

from metaflow import FlowSpec, Parameter, step


class BranchyFlow(FlowSpec):
    scale = Parameter("scale", type=int, default=2)

    @step
    def start(self):
        self.items = [1, 2]
        self.factor = 1
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.x = self.input * self.factor * self.scale
        print("each", self.input, "->", self.x)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.x for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    BranchyFlow()
