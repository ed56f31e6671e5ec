from metaflow import FlowSpec, step


class InvalidStepNameUpperFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.Train)

    @step
    def Train(self):  # expect: invalid-step-name
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    InvalidStepNameUpperFlow()
