from metaflow import FlowSpec, parallel, step


class MultiParallelFlow(FlowSpec):
    @step
    def start(self):  # expect: parallel-missing-decorator
        self.next(self.plain, num_parallel=2)

    @step
    def plain(self):
        self.next(self.join1)

    @step
    def join1(self, inputs):  # expect: join-and-split
        self.items = [1, 2]
        self.next(self.worker, foreach="items")

    @parallel
    @step
    def worker(self):  # expect: parallel-not-followed-by-join, parallel-not-called-with-num-parallel
        self.next(self.after)

    @step
    def after(self):
        self.next(self.join2)

    @step
    def join2(self, inputs):
        self.next(self.end)

    @step
    def end(self):  # expect: end-before-join
        pass


if __name__ == "__main__":
    MultiParallelFlow()
