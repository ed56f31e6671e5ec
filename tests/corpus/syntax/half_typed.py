from metaflow import FlowSpec, step


class HalfTypedFlow(FlowSpec):
    """The user is in the middle of typing the train step."""

    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.model =  # expect: syntax-error
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    HalfTypedFlow()
