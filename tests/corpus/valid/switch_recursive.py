from metaflow import FlowSpec, step


class SwitchRecursiveFlow(FlowSpec):
    """A switch whose "again" case loops back to the switch step itself."""

    @step
    def start(self):
        self.attempts = 0
        self.next(self.poll)

    @step
    def poll(self):
        self.attempts += 1
        self.status = "done" if self.attempts >= 3 else "again"
        self.next({"again": self.poll, "done": self.end}, condition="status")

    @step
    def end(self):
        print(self.attempts)


if __name__ == "__main__":
    SwitchRecursiveFlow()
