"""A flow whose middle step runs for a minute, printing as it goes."""

import time

from metaflow import FlowSpec, step


class SlowFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.sleepy)

    @step
    def sleepy(self):
        for i in range(120):
            print("tick", i, flush=True)
            time.sleep(0.5)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()
