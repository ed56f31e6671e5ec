from metaflow import FlowSpec, step


class EmptyForeachFlow(FlowSpec):
    @step
    def start(self):  # expect: empty-foreach
        self.items = [1, 2, 3]
        self.next(self.join, foreach="items")

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EmptyForeachFlow()

# metaflow-crashes: check_split_join_balance raises IndexError (the join's only input is the foreach step itself),
# so Metaflow never reaches check_empty_foreaches; the join-balance rule finds nothing it can resolve here.
