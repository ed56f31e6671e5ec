"""A foreach flow whose `square` step fails for one input: always, once (then @retry
succeeds), or never (FAIL_MODE)."""

import os
import sys

from metaflow import FlowSpec, current, retry, step


class ServiceFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        print("hello from start")
        print("a warning on stderr", file=sys.stderr)
        self.next(self.square, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def square(self):
        mode = os.environ.get("FAIL_MODE", "never")
        print("square", self.input, "attempt", current.retry_count)
        if self.input == 2 and (mode == "always" or (mode == "once" and current.retry_count == 0)):
            raise ValueError("boom")
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    ServiceFlow()
