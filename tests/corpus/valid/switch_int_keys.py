from metaflow import FlowSpec, step


class SwitchIntKeysFlow(FlowSpec):
    @step
    def start(self):
        self.level = 2
        self.next(
            {1: self.low, 2: self.mid, 3: self.high},
            condition="level",
        )

    @step
    def low(self):
        self.next(self.end)

    @step
    def mid(self):
        self.next(self.end)

    @step
    def high(self):
        self.next(self.end)

    @step
    def end(self):
        print(self.level)


if __name__ == "__main__":
    SwitchIntKeysFlow()
