from metaflow import FlowSpec, step


class AmbiguousStartFlow(FlowSpec):  # expect-file: ambiguous-start
    @step(start=True)
    def begin(self):
        self.next(self.start)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    AmbiguousStartFlow()
