from metaflow import FlowSpec, step


class ForeachThenSwitchFlow(FlowSpec):
    """A switch inside a foreach body whose cases reconverge before the join."""

    @step
    def start(self):
        self.jobs = ["small", "large"]
        self.next(self.per_job, foreach="jobs")

    @step
    def per_job(self):
        self.size = self.input
        self.next({"small": self.quick, "large": self.thorough}, condition="size")

    @step
    def quick(self):
        self.next(self.collect)

    @step
    def thorough(self):
        self.next(self.collect)

    @step
    def collect(self):
        self.done = self.size
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sizes = [i.done for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.sizes)


if __name__ == "__main__":
    ForeachThenSwitchFlow()
