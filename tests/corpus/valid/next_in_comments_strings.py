from metaflow import FlowSpec, step


class NextInCommentsStringsFlow(FlowSpec):
    """Docs mention self.next(self.nowhere) but that is not a transition."""

    @step
    def start(self):
        # self.next(self.commented_out)
        self.note = "self.next(self.in_a_string)"
        self.multi = """
        self.next(self.in_a_triple_quoted_string)
        """
        self.next(self.middle)  # self.next(self.trailing_comment)

    @step
    def middle(self):
        """self.next(self.in_a_docstring)"""
        if False:
            print("self.next(self.in_dead_code)")
        self.next(self.end)

    @step
    def end(self):
        # self.next(self.start)
        pass


if __name__ == "__main__":
    NextInCommentsStringsFlow()
