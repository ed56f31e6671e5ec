from metaflow import FlowSpec, step


class ParentFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.value += 1
        self.next(self.end)

    @step
    def end(self):
        print(self.value)


class ChildFlow(ParentFlow):
    """Same shape as ParentFlow, but middle goes through an extra step."""

    @step
    def middle(self):
        self.value += 10
        self.next(self.extra)

    @step
    def extra(self):
        self.next(self.end)


if __name__ == "__main__":
    ChildFlow()
