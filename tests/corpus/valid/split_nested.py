from metaflow import FlowSpec, step


class SplitNestedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.outer_a, self.outer_b)

    @step
    def outer_a(self):
        self.next(self.inner_x, self.inner_y)

    @step
    def inner_x(self):
        self.v = "x"
        self.next(self.inner_join)

    @step
    def inner_y(self):
        self.v = "y"
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.vs = [i.v for i in inputs]
        self.next(self.outer_join)

    @step
    def outer_b(self):
        self.vs = ["b"]
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all_vs = [v for i in inputs for v in i.vs]
        self.next(self.end)

    @step
    def end(self):
        print(self.all_vs)


if __name__ == "__main__":
    SplitNestedFlow()
