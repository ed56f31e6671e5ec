from metaflow import FlowSpec as FS
from metaflow import retry as again
from metaflow import step as stp


class ImportNameAliasesFlow(FS):
    @stp
    def start(self):
        self.next(self.middle)

    @again(times=4)
    @stp
    def middle(self):
        self.next(self.end)

    @stp
    def end(self):
        pass


if __name__ == "__main__":
    ImportNameAliasesFlow()
