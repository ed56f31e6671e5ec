from metaflow import FlowSpec, step


class NextMultilineFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(
            self.fan_a,  # first branch
            # a comment line inside the call
            self.fan_b,
        )

    @step
    def fan_a(self):
        self.next(
            self.join
        )

    @step
    def fan_b(self):
        self.next(self.join,)

    @step
    def join(self, inputs):
        self.items = inputs.fan_a.items
        self.next(self.fan_each)

    @step
    def fan_each(self):
        self.next(
            self.each,
            foreach="items",  # trailing comma after a keyword
        )

    @step
    def each(self):
        self.next(self.each_join)

    @step
    def each_join(
        self,
        inputs,
    ):
        self.next(self.route)

    @step
    def route(self):
        self.choice = "a"
        self.next(
            {
                "a": self.end,  # a switch written over several lines
                "b": self.end,
            },
            condition="choice",
        )

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NextMultilineFlow()
