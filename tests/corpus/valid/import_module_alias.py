import metaflow as mf


class ImportModuleAliasFlow(mf.FlowSpec):
    alpha = mf.Parameter("alpha", default=1)

    @mf.retry(times=1)
    @mf.step
    def start(self):
        self.next(self.end)

    @mf.step
    def end(self):
        print(self.alpha)


if __name__ == "__main__":
    ImportModuleAliasFlow()
