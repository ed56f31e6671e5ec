"""A run that waits for the test to release it, printing as it goes: the web view's live fixture."""

import os
import time

from metaflow import FlowSpec, step


class LiveFlow(FlowSpec):
    """Waits in `wait` until the file named by LIVE_RELEASE exists (at most a minute)."""

    @step
    def start(self):
        """Go."""
        self.next(self.wait)

    @step
    def wait(self):
        """Tick until released."""
        release = os.environ.get("LIVE_RELEASE", "")
        for i in range(600):
            print("tick", i, flush=True)
            if os.path.exists(release):
                break
            time.sleep(0.1)
        self.next(self.end)

    @step
    def end(self):
        """Done."""


if __name__ == "__main__":
    LiveFlow()
