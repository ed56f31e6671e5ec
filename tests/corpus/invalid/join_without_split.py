from metaflow import FlowSpec, step


class JoinWithoutSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # expect: join-without-split
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    JoinWithoutSplitFlow()
