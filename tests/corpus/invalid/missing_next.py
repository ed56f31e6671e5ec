from metaflow import FlowSpec, step


class MissingNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):  # expect: missing-next
        self.x = 1

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    MissingNextFlow()
