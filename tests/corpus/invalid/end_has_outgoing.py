from metaflow import FlowSpec, step


class EndHasOutgoingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):  # expect: end-has-outgoing
        self.next(self.cleanup)  # expect: end-has-next

    @step
    def cleanup(self):  # expect: missing-next
        pass


if __name__ == "__main__":
    EndHasOutgoingFlow()
