from metaflow import FlowSpec, step


class EndIsJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.end)

    @step
    def b(self):
        self.next(self.end)

    @step
    def end(self, inputs):  # expect: end-is-join, join-and-split, end-before-join
        pass


if __name__ == "__main__":
    EndIsJoinFlow()

# Metaflow reports end-is-join "on line 0" (the tail_next_lineno of a step without self.next);
# we expect it on the def line.
