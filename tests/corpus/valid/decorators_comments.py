from metaflow import FlowSpec, retry, step


class DecoratorsCommentsFlow(FlowSpec):
    # a comment before the decorators
    @retry(
        times=2,  # a comment inside the decorator call
        minutes_between_retries=1,
    )
    # a comment between decorators
    @step

    # a blank line and a comment between @step and def
    def start(self):
        self.next(self.end)

    @step
    def end(   # odd spacing in the signature
        self,
    ):
        pass


if __name__ == "__main__":
    DecoratorsCommentsFlow()
