from metaflow import FlowSpec, step


class MultipleEndFlow(FlowSpec):  # expect-file: multiple-end
    @step
    def start(self):
        self.next({"a": self.done_a, "b": self.done_b}, condition="which")

    @step(end=True)
    def done_a(self):  # expect: missing-next
        pass

    @step(end=True)
    def done_b(self):  # expect: missing-next
        pass


if __name__ == "__main__":
    MultipleEndFlow()
