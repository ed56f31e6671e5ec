from metaflow import FlowSpec, step


class InvalidNextCallTargetFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.pick())

    def pick(self):
        return self.end

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidNextCallTargetFlow()
