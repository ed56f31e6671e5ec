from metaflow import FlowSpec, step


class NextNotLastFollowedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):  # expect: missing-next
        self.next(self.end)  # expect: next-not-last
        print("after the transition")

    @step
    def end(self):  # expect: unreachable-step
        pass


if __name__ == "__main__":
    NextNotLastFollowedFlow()
