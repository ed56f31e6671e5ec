from metaflow import FlowSpec, step


class MultiArgumentsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a():  # expect: missing-self
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs, extra):  # expect: too-many-arguments
        self.next(self.fan)

    @step
    def fan(self, inputs):  # expect: join-and-split
        self.next(self.c, self.d)

    @step
    def c(self):
        self.next(self.join2)

    @step
    def d(self):
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    MultiArgumentsFlow()
