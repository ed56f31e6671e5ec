from metaflow import FlowSpec, parallel, step


class ParallelNotCalledWithNumParallelFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.train, foreach="items")

    @parallel
    @step
    def train(self):  # expect: parallel-not-called-with-num-parallel
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelNotCalledWithNumParallelFlow()
