from lib_base_steps import Base, ReportMixin
from metaflow import step


class InheritOverrideFlow(ReportMixin, Base):
    """Overrides the inherited process step and adds a mixin step."""

    @step
    def process(self):
        """A different process: goes through the mixin's report step."""
        self.processed = [d + 1 for d in self.data]
        self.next(self.report)


if __name__ == "__main__":
    InheritOverrideFlow()
