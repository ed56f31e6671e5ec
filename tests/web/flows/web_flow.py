"""A foreach with a retried step, a card, and values that look like HTML: the web view's fixture."""

from metaflow import FlowSpec, Parameter, card, current, retry, step

HOSTILE = '<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script>'


class WebFlow(FlowSpec):
    """Train one model per item; the first attempt of 'b' fails and is retried."""

    fail = Parameter("fail", type=bool, default=False, help="Make the task of 'c' fail.")

    @step
    def start(self):
        """Make the items (and a hostile value)."""
        self.items = ["a", "b", "c"]
        self.hostile = HOSTILE
        print("hostile line:", HOSTILE)
        self.next(self.train, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def train(self):
        """Train on one item."""
        if self.input == "b" and current.retry_count == 0:
            raise RuntimeError("flaky first attempt")
        if self.fail and self.input == "c":
            raise ValueError("train failed on purpose: " + HOSTILE)
        self.score = len(self.input) * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        """Collect the scores."""
        self.scores = [i.score for i in inputs]
        self.next(self.report)

    @card
    @step
    def report(self):
        """Summarise in a card."""
        self.summary = f"{len(self.scores)} scores"
        self.next(self.end)

    @step
    def end(self):
        """Done."""
        print("scores", self.scores)


if __name__ == "__main__":
    WebFlow()
