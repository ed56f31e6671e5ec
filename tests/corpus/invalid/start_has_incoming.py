from metaflow import FlowSpec, step


class StartHasIncomingFlow(FlowSpec):
    @step
    def start(self):  # expect: start-has-incoming
        self.next({"again": self.start_over, "done": self.end}, condition="status")  # expect: cycle

    @step
    def start_over(self):
        self.next(self.start)  # expect: cycle

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StartHasIncomingFlow()
