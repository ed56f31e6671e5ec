from metaflow import Config, FlowSpec, IncludeFile, Parameter, step


class ParametersFlow(FlowSpec):
    """Parameters, a Config and an IncludeFile."""

    alpha = Parameter("alpha", default=0.5, help="Learning rate")
    count = Parameter("count", type=int, default=3)
    label = Parameter("label", required=True, help="A required string")
    flag = Parameter("flag", default=False, type=bool)
    cfg = Config("cfg", default="params.json")
    data = IncludeFile("data", default="params_data.txt", help="Some text")

    @step
    def start(self):
        self.lr = self.cfg.learning_rate
        self.lines = self.data.splitlines()
        self.next(self.end)

    @step
    def end(self):
        print(self.alpha, self.count, self.label, self.flag, self.lr, self.lines)


if __name__ == "__main__":
    ParametersFlow()
