# metaflow-env: METAFLOW_DEFAULT_DATASTORE=s3 METAFLOW_DATASTORE_SYSROOT_S3=s3://corpus-bucket/metaflow
# (@batch and @kubernetes refuse the local datastore, so this file is checked with an S3 datastore.)
from metaflow import FlowSpec, batch, kubernetes, resources, step


class DecoratorsRemoteFlow(FlowSpec):
    @batch
    @step
    def start(self):
        self.next(self.on_batch)

    @batch(cpu=4, memory=8000, queue="q")
    @step
    def on_batch(self):
        self.next(self.on_k8s)

    @kubernetes(cpu=1)
    @step
    def on_k8s(self):
        self.next(self.sized)

    @resources(cpu=8, memory=16000)
    @kubernetes
    @step
    def sized(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DecoratorsRemoteFlow()
