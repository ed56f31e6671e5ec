from metaflow import FlowSpec, step


class EmptyForeachInSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.other)

    @step
    def fan(self):  # expect: empty-foreach
        self.items = [1, 2]
        self.next(self.gather, foreach="items")

    @step
    def gather(self, inputs):  # expect: join-path-mismatch
        self.next(self.join)

    @step
    def other(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EmptyForeachInSplitFlow()
