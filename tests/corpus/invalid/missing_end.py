from metaflow import FlowSpec, step


class MissingEndFlow(FlowSpec):  # expect-file: missing-end
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):  # expect: missing-next
        print("done")


if __name__ == "__main__":
    MissingEndFlow()
