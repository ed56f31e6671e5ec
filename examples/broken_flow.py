"""A flow with mistakes, to show that every structural error is reported at once.

Metaflow's own `check` stops at the first of these; `metaflow-lsp check` lists them all.
"""

from metaflow import FlowSpec, step


class BrokenFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [1, 2, 3]
        self.next(self.clean, self.featurize)

    @step
    def clean(self):
        self.cleaned = [r for r in self.rows if r]
        self.next(self.trian)  # a typo: no step is called "trian"

    @step
    def featurize(self):
        print(self.normalized)  # never assigned by any step before this one
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def orphan(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BrokenFlow()
