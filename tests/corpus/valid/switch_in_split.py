from metaflow import FlowSpec, step


class SwitchInSplitFlow(FlowSpec):
    """A switch inside one branch of a static split; its cases reconverge before the join."""

    @step
    def start(self):
        self.next(self.branch_a, self.branch_b)

    @step
    def branch_a(self):
        self.route = "left"
        self.next({"left": self.go_left, "right": self.go_right}, condition="route")

    @step
    def go_left(self):
        self.next(self.after_switch)

    @step
    def go_right(self):
        self.next(self.after_switch)

    @step
    def after_switch(self):
        self.next(self.join)

    @step
    def branch_b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchInSplitFlow()
