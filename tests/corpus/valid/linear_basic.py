from metaflow import FlowSpec, step


class LinearFlow(FlowSpec):
    """The simplest flow: start -> middle -> end."""

    @step
    def start(self):
        """Set the first artifact."""
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        """Print the result."""
        print(self.x, self.y)


if __name__ == "__main__":
    LinearFlow()
