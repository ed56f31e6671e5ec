from metaflow import FlowSpec, step


class EndBeforeJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self):  # expect: end-before-join
        pass


if __name__ == "__main__":
    EndBeforeJoinFlow()
