from metaflow import FlowSpec, parallel, step


class ParallelNotFollowedByJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):  # expect: parallel-not-followed-by-join
        self.next(self.gather)

    @step
    def gather(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ParallelNotFollowedByJoinFlow()
