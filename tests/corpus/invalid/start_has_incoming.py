from metaflow import FlowSpec, step


class StartHasIncomingFlow(FlowSpec):
    @step
    def start(self):
        self.next({"again": self.start_over, "done": self.end}, condition="status")

    @step
    def start_over(self):
        self.next(self.start)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartHasIncomingFlow()
