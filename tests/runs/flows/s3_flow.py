"""A foreach whose second branch fails once (then @retry succeeds), a card on the join
(not on `end`: rendering it would delay the run's end past the Client's `finished_at`);
FAIL_START=1 fails at once."""

import os
import sys

from metaflow import FlowSpec, card, current, retry, step


class S3Flow(FlowSpec):
    @step
    def start(self):
        if os.environ.get("FAIL_START") == "1":
            raise RuntimeError("failing on purpose")
        self.items = [1, 2, 3]
        print("fanning out", len(self.items))
        self.next(self.square, foreach="items")

    @retry(times=1, minutes_between_retries=0)
    @step
    def square(self):
        print("square of", self.input, "attempt", current.retry_count)
        if self.input == 2 and current.retry_count == 0:
            raise ValueError("first attempt fails")
        self.value = self.input**2
        self.next(self.join)

    @card
    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        print("total", self.total, file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        print("done")


if __name__ == "__main__":
    S3Flow()
