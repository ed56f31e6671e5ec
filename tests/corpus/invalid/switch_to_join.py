from metaflow import FlowSpec, step


class SwitchToJoinFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.route = "direct"
        self.next({"direct": self.join, "detour": self.detour}, condition="route")

    @step
    def detour(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # expect: switch-to-join
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchToJoinFlow()
