from metaflow import FlowSpec, step


class StartEndAnnotatedFlow(FlowSpec):
    """Entry and terminal steps chosen by annotation, not by name."""

    @step(start=True)
    def begin(self):
        self.n = 1
        self.next(self.work)

    @step
    def work(self):
        self.n += 1
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        print(self.n)


if __name__ == "__main__":
    StartEndAnnotatedFlow()
