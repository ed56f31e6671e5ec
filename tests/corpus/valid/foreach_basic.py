from metaflow import FlowSpec, step


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = ["a", "b", "c"]
        self.next(self.process, foreach="items")

    @step
    def process(self):
        self.result = self.input.upper()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [i.result for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.results)


if __name__ == "__main__":
    ForeachFlow()
