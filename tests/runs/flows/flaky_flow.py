"""A linear flow whose middle step fails always, once (then @retry succeeds), or never."""

import os
import sys

from metaflow import FlowSpec, current, retry, step


class FlakyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        print("hello from start")
        print("a warning on stderr", file=sys.stderr)
        self.next(self.middle)

    @retry(times=1, minutes_between_retries=0)
    @step
    def middle(self):
        mode = os.environ.get("FAIL_MODE", "never")
        print("middle attempt", current.retry_count, "mode", mode)
        if mode == "always" or (mode == "once" and current.retry_count == 0):
            raise ValueError("boom")
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        print("done", self.y)


if __name__ == "__main__":
    FlakyFlow()
