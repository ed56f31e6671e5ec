from metaflow import Config, FlowSpec, step


class SwitchConfigKeysFlow(FlowSpec):
    config = Config("config", default="switch_config.json")

    @step
    def start(self):
        self.target = self.config.primary
        self.next(
            {self.config.primary: self.on_gpu, self.config.fallback: self.on_cpu},
            condition="target",
        )

    @step
    def on_gpu(self):
        self.next(self.end)

    @step
    def on_cpu(self):
        self.next(self.end)

    @step
    def end(self):
        print(self.target)


if __name__ == "__main__":
    SwitchConfigKeysFlow()
