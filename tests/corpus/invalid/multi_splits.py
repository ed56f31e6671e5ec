from metaflow import FlowSpec, step


class MultiSplitsFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.orphan_join)

    @step
    def orphan_join(self, inputs):  # expect: join-without-split
        self.next(self.fan)

    @step
    def fan(self):
        self.next(self.x, self.y)

    @step
    def x(self):
        self.next(self.end)

    @step
    def y(self):
        self.next(self.end)

    @step
    def end(self):  # expect: end-before-join
        pass


if __name__ == "__main__":
    MultiSplitsFlow()
