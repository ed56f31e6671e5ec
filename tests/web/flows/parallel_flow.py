"""A @parallel step (drawn from the source only: the web view's fixture)."""

from metaflow import FlowSpec, parallel, step


class ParallelFlow(FlowSpec):
    """Four workers side by side."""

    @step
    def start(self):
        """Fan out."""
        self.next(self.train, num_parallel=4)

    @parallel
    @step
    def train(self):
        """One worker."""
        self.next(self.join)

    @step
    def join(self, inputs):
        """Gather."""
        self.next(self.end)

    @step
    def end(self):
        """Done."""


if __name__ == "__main__":
    ParallelFlow()
