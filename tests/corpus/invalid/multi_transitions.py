from metaflow import FlowSpec, step


class MultiTransitionsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b, self.missing_one)  # expect: unknown-step

    @step
    def b(self):  # expect: missing-next
        self.x = 1

    @step
    def c(self):  # expect: unreachable-step
        self.next(self.end, foreach="x", num_parallel=3)  # expect: invalid-next

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    MultiTransitionsFlow()
