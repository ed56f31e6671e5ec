from metaflow import FlowSpec, step


class EndHasOutgoingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.cleanup)

    @step
    def cleanup(self):
        pass


if __name__ == "__main__":
    EndHasOutgoingFlow()
