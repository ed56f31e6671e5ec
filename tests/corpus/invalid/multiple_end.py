from metaflow import FlowSpec, step


class MultipleEndFlow(FlowSpec):
    @step
    def start(self):
        self.next({"a": self.done_a, "b": self.done_b}, condition="which")

    @step(end=True)
    def done_a(self):
        pass

    @step(end=True)
    def done_b(self):
        pass


if __name__ == "__main__":
    MultipleEndFlow()
