"""A flow whose foreach tasks sleep for minutes: something to cancel."""

import time

from metaflow import FlowSpec, step


class SleepyFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        print("napping", self.input, flush=True)
        time.sleep(300)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
