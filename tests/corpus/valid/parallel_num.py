from metaflow import FlowSpec, current, parallel, step


class ParallelFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        self.rank = current.parallel.node_index
        self.next(self.multinode_join)

    @step
    def multinode_join(self, inputs):
        self.ranks = [i.rank for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.ranks)


if __name__ == "__main__":
    ParallelFlow()
