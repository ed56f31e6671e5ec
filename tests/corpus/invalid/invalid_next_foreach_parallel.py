from metaflow import FlowSpec, step


class InvalidNextForeachParallelFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items", num_parallel=2)  # expect: invalid-next

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # expect: join-without-split
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNextForeachParallelFlow()
