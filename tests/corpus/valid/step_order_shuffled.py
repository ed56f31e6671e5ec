from metaflow import FlowSpec, step


class StepOrderShuffledFlow(FlowSpec):
    """Steps are defined in no particular order; the graph follows self.next."""

    @step
    def end(self):
        pass

    @step
    def zeta(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def alpha(self):
        self.next(self.join)

    @step
    def start(self):
        self.next(self.zeta, self.alpha)


if __name__ == "__main__":
    StepOrderShuffledFlow()
