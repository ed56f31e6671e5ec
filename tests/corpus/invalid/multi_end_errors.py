from metaflow import FlowSpec, step


class MultiEndErrorsFlow(FlowSpec):  # expect-file: ambiguous-start
    @step(start=True)
    def begin(self):  # expect: start-has-incoming
        self.next(self.start)  # expect: cycle

    @step
    def start(self):
        self.next(self.end)  # expect: cycle

    @step
    def end(self):  # expect: end-has-outgoing
        self.next(self.begin)  # expect: end-has-next, cycle


if __name__ == "__main__":
    MultiEndErrorsFlow()
