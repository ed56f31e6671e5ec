"""Shared steps imported by other flows in this directory (also a runnable flow itself)."""

from metaflow import FlowSpec, Parameter, step


class Base(FlowSpec):
    """A base flow whose steps subclasses inherit."""

    scale = Parameter("scale", default=2)

    @step
    def start(self):
        """Load the data."""
        self.data = [1, 2, 3]
        self.next(self.process)

    @step
    def process(self):
        """Scale the data."""
        self.processed = [d * self.scale for d in self.data]
        self.next(self.end)

    @step
    def end(self):
        print(self.processed)


class ReportMixin:
    """Steps a flow can mix in; not a FlowSpec itself."""

    @step
    def report(self):
        self.report_text = "report"
        self.next(self.end)


if __name__ == "__main__":
    Base()
