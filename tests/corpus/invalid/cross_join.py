from metaflow import FlowSpec, step


class CrossJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.a1, self.a2)

    @step
    def a1(self):
        self.next(self.join_a)

    @step
    def a2(self):
        self.next(self.join_a)

    @step
    def join_a(self, inputs):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.b1, self.b2)

    @step
    def b1(self):
        self.next(self.join)

    @step
    def b2(self):
        self.next(self.join_b)

    @step
    def join_b(self, inputs):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrossJoinFlow()
