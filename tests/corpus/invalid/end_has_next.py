from metaflow import FlowSpec, step


class EndHasNextFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next()  # expect: end-has-next


if __name__ == "__main__":
    EndHasNextFlow()
