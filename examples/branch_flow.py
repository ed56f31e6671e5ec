"""Load data once, compute two features side by side, join them: a static split."""

from metaflow import FlowSpec, step


class BranchFlow(FlowSpec):
    """Two branches that meet in a join."""

    @step
    def start(self):
        """Make some data."""
        self.data = list(range(10))
        self.next(self.mean, self.spread)

    @step
    def mean(self):
        """Average of the data."""
        self.mean_value = sum(self.data) / len(self.data)
        self.next(self.join)

    @step
    def spread(self):
        """Range of the data."""
        self.spread_value = max(self.data) - min(self.data)
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect both features."""
        self.features = {"mean": inputs.mean.mean_value, "spread": inputs.spread.spread_value}
        self.next(self.end)

    @step
    def end(self):
        """Print the features."""
        print(self.features)


if __name__ == "__main__":
    BranchFlow()
