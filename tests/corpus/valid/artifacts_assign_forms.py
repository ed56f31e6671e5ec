from metaflow import FlowSpec, step


class ArtifactsFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.a, self.b = 1, 2
        (self.c, [self.d, self.e]) = (3, [4, 5])
        self.x += 1
        self.typed: int = 3
        self.f = self.g = 6
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.sq = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.squares = [i.sq for i in inputs]
        self.first = inputs[0].sq
        self.merge_artifacts(inputs, exclude=["sq"])
        self.next(self.end)

    @step
    def end(self):
        print(self.x, self.a, self.b, self.c, self.d, self.e, self.typed, self.f, self.g)
        print(self.squares, self.first)


if __name__ == "__main__":
    ArtifactsFlow()
