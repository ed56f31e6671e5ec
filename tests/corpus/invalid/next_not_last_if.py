from metaflow import FlowSpec, step


class NextNotLastIfFlow(FlowSpec):
    @step
    def start(self):  # expect: missing-next
        self.ready = True
        if self.ready:
            self.next(self.end)  # expect: next-not-last

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    NextNotLastIfFlow()
