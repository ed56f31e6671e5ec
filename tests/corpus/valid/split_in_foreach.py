from metaflow import FlowSpec, step


class SplitInForeachFlow(FlowSpec):
    @step
    def start(self):
        self.models = ["m1", "m2"]
        self.next(self.per_model, foreach="models")

    @step
    def per_model(self):
        self.model = self.input
        self.next(self.fit, self.evaluate)

    @step
    def fit(self):
        self.fitted = True
        self.next(self.model_join)

    @step
    def evaluate(self):
        self.score = 0.9
        self.next(self.model_join)

    @step
    def model_join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.all_join)

    @step
    def all_join(self, inputs):
        self.summary = [(i.model, i.score) for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    SplitInForeachFlow()
