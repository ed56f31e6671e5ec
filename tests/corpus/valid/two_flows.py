from metaflow import FlowSpec, step


class FirstFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SecondFlow(FlowSpec):
    """This is the flow that runs when the file is executed."""

    @step
    def start(self):
        self.next(self.only_in_second)

    @step
    def only_in_second(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SecondFlow()
