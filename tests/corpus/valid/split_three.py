from metaflow import FlowSpec, step


class SplitThreeFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.score = 1
        self.next(self.join)

    @step
    def b(self):
        self.score = 2
        self.next(self.join)

    @step
    def c(self):
        self.score = 3
        self.next(self.join)

    @step
    def join(self, inputs):
        self.best_a = inputs.a.score
        self.total = 0
        for i in inputs:
            self.total += i.score
        self.next(self.end)

    @step
    def end(self):
        print(self.best_a, self.total)


if __name__ == "__main__":
    SplitThreeFlow()
