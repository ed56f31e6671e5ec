from metaflow import FlowSpec, step


def module_helper(x):
    return x * 2


class HelperMethodsFlow(FlowSpec):
    """Non-step methods on the flow class are not steps."""

    LIMIT = 3

    def helper(self, value):
        return module_helper(value) + self.LIMIT

    @staticmethod
    def static_helper(x):
        return x + 1

    @classmethod
    def class_helper(cls):
        return cls.LIMIT

    @property
    def doubled_limit(self):
        return self.LIMIT * 2

    @step
    def start(self):
        self.value = self.helper(1)
        self.next(self.end)

    def not_a_step(self):
        self.next(self.end)

    @step
    def end(self):
        print(self.value, self.static_helper(1), self.class_helper())


if __name__ == "__main__":
    HelperMethodsFlow()
