from metaflow import FlowSpec, Parameter, parallel, step


class ParallelDynamicFlow(FlowSpec):
    """num_parallel taken from a Parameter: not a literal, so the graph records null."""

    nodes = Parameter("nodes", default=2)

    @step
    def start(self):
        self.next(self.train, num_parallel=self.nodes)

    @parallel
    @step
    def train(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelDynamicFlow()
