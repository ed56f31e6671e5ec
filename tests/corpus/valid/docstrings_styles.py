from metaflow import FlowSpec, step


class DocstringsFlow(FlowSpec):
    """
    A flow whose docstring starts on the line after the quotes.

        This line is indented further.
    """

    @step
    def start(self):
        """One-line docstring."""
        self.next(self.first_on_quote_line)

    @step
    def first_on_quote_line(self):
        """First line on the quote line.
        Second line, indented like the code.
            Third line, indented more.
        """
        self.next(self.next_line_start)

    @step
    def next_line_start(self):
        """
        Starts on the line after the quotes.
        Second line.
        """
        self.next(self.flush_left)

    @step
    def flush_left(self):
        """
Flush-left docstring body.
Second line.
"""
        self.next(self.single_quotes)

    @step
    def single_quotes(self):
        '''Single-quoted triple docstring with "double" quotes inside.'''
        self.next(self.raw_doc)

    @step
    def raw_doc(self):
        r"""Raw docstring with a backslash: \n stays as written."""
        self.next(self.plain_string_doc)

    @step
    def plain_string_doc(self):
        "A docstring in plain double quotes."
        self.next(self.blank_first_lines)

    @step
    def blank_first_lines(self):
        """

        Two blank lines before the text.

        And a paragraph break.
        """
        self.next(self.end)

    @step
    def end(self):
        """
            Starts on the next line and is indented deeper than the code.
            Second line at the same depth.
        """


if __name__ == "__main__":
    DocstringsFlow()
