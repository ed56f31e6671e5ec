from metaflow import FlowSpec, project, schedule, step


@project(name="corpus_demo")
@schedule(daily=True)
class FlowDecoratorsFlow(FlowSpec):
    """Flow-level decorators do not appear in the step graph."""

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    FlowDecoratorsFlow()
