from metaflow import FlowSpec, step


class CycleFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)  # expect: cycle

    @step
    def b(self):
        self.next(self.a)  # expect: cycle

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    CycleFlow()
