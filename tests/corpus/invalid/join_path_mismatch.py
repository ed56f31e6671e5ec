from metaflow import FlowSpec, step


class JoinPathMismatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.end)

    @step
    def join(self, inputs):  # expect: join-path-mismatch
        self.next(self.end)

    @step
    def end(self):  # expect: end-before-join
        pass


if __name__ == "__main__":
    JoinPathMismatchFlow()
