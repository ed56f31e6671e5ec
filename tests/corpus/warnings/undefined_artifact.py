from metaflow import FlowSpec, Parameter, step


class UndefinedArtifactFlow(FlowSpec):
    """Metaflow accepts this flow; self.nope only fails at run time."""

    alpha = Parameter("alpha", default=1)

    @step
    def start(self):
        self.x = 1
        self.items = [1, 2]
        self.next(self.middle)

    @step
    def middle(self):
        print(self.x, self.alpha)
        print(self.nope)  # expect: undefined-artifact
        self.next(self.end)

    @step
    def end(self):
        self.y = self.x + 1
        print(self.y)


if __name__ == "__main__":
    UndefinedArtifactFlow()
