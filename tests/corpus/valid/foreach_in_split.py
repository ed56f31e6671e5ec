from metaflow import FlowSpec, step


class ForeachInSplitFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.plain)

    @step
    def fan(self):
        self.shards = list(range(3))
        self.next(self.shard, foreach="shards")

    @step
    def shard(self):
        self.part = self.input * 10
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.parts = [i.part for i in inputs]
        self.next(self.join)

    @step
    def plain(self):
        self.parts = []
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all_parts = sorted(p for i in inputs for p in i.parts)
        self.next(self.end)

    @step
    def end(self):
        print(self.all_parts)


if __name__ == "__main__":
    ForeachInSplitFlow()
