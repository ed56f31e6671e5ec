from metaflow import FlowSpec, step


class ForeachNestedFlow(FlowSpec):
    @step
    def start(self):
        self.rows = [1, 2]
        self.next(self.per_row, foreach="rows")

    @step
    def per_row(self):
        self.row = self.input
        self.cols = ["x", "y", "z"]
        self.next(self.per_cell, foreach="cols")

    @step
    def per_cell(self):
        self.cell = "%s%s" % (self.row, self.input)
        self.next(self.join_cols)

    @step
    def join_cols(self, inputs):
        self.cells = [i.cell for i in inputs]
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.grid = [i.cells for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        print(self.grid)


if __name__ == "__main__":
    ForeachNestedFlow()
