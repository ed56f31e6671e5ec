from metaflow import FlowSpec, step


class MissingEndFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.finish)

    @step
    def finish(self):
        print("done")


if __name__ == "__main__":
    MissingEndFlow()
