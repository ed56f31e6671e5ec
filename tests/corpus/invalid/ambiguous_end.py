from metaflow import FlowSpec, step


class AmbiguousEndFlow(FlowSpec):  # expect-file: ambiguous-end
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass


if __name__ == "__main__":
    AmbiguousEndFlow()
