from metaflow import (
    FlowSpec,
    card,
    catch,
    environment,
    resources,
    retry,
    secrets,
    step,
    timeout,
)


class DecoratorsManyFlow(FlowSpec):
    @retry
    @card
    @step
    def start(self):
        self.next(self.configured)

    @retry(times=2)
    @catch(var="e")
    @timeout(seconds=5)
    @resources(cpu=2, memory=1000)
    @step
    def configured(self):
        self.next(self.env_and_secrets)

    @environment(vars={"A": "1"})
    @secrets(sources=["x"])
    @step
    def env_and_secrets(self):
        self.next(self.cards)

    @card(type="blank", id="x")
    @card(type="default")
    @step
    def cards(self):
        self.next(self.end)

    @catch(var="failure", print_exception=False)
    @timeout(minutes=1, hours=1)
    @resources(gpu=1)
    @retry(times=0, minutes_between_retries=0)
    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratorsManyFlow()
