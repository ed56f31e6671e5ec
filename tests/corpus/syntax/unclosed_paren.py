from metaflow import FlowSpec, step


class UnclosedParenFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle  # expect: syntax-error

    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UnclosedParenFlow()
