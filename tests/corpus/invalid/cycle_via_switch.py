from metaflow import FlowSpec, step


class CycleViaSwitchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @step
    def train(self):
        self.next(self.evaluate)  # expect: cycle

    @step
    def evaluate(self):
        self.verdict = "retry"
        self.next({"retry": self.train, "ok": self.end}, condition="verdict")  # expect: cycle

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CycleViaSwitchFlow()
