from metaflow import FlowSpec, step


class SwitchReconvergeFlow(FlowSpec):
    """Switch branches meet again in an ordinary (non-join) step."""

    @step
    def start(self):
        self.kind = "csv"
        self.next({"csv": self.read_csv, "json": self.read_json}, condition="kind")

    @step
    def read_csv(self):
        self.rows = [1, 2]
        self.next(self.clean)

    @step
    def read_json(self):
        self.rows = [3]
        self.next(self.clean)

    @step
    def clean(self):
        self.clean_rows = [r for r in self.rows if r]
        self.next(self.end)

    @step
    def end(self):
        print(self.clean_rows)


if __name__ == "__main__":
    SwitchReconvergeFlow()
