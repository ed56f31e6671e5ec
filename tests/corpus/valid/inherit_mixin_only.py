from lib_base_steps import ReportMixin
from metaflow import FlowSpec, step


class InheritMixinOnlyFlow(FlowSpec, ReportMixin):
    """start and end are here; report comes from the mixin in another module."""

    @step
    def start(self):
        self.next(self.report)

    @step
    def end(self):
        print(self.report_text)


if __name__ == "__main__":
    InheritMixinOnlyFlow()
