from metaflow import FlowSpec, step


class InvalidNextCallTargetFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.pick())  # expect: invalid-next

    def pick(self):
        return self.end

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    InvalidNextCallTargetFlow()
