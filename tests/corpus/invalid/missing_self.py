from metaflow import FlowSpec, step


class MissingSelfFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end():  # expect: missing-self
        pass


if __name__ == "__main__":
    MissingSelfFlow()
