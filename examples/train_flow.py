"""Train a few models in parallel and keep the best one: a foreach, a join and a Parameter."""

from metaflow import FlowSpec, Parameter, card, retry, step


class TrainFlow(FlowSpec):
    """Fit one model per learning rate and pick the best."""

    learning_rates = Parameter(
        "learning_rates", default="0.01,0.1,0.5", help="Comma-separated learning rates to try."
    )
    epochs = Parameter("epochs", default=3, type=int, help="Training epochs per model.")

    @step
    def start(self):
        """Parse the grid of learning rates."""
        self.grid = [float(x) for x in self.learning_rates.split(",")]
        self.next(self.train, foreach="grid")

    @retry(times=2)
    @step
    def train(self):
        """Fit one model (a toy quadratic loss)."""
        self.lr = self.input
        loss = 10.0
        for _ in range(self.epochs):
            loss = loss * (1 - min(self.lr, 0.9))
        self.loss = round(loss, 4)
        self.next(self.choose)

    @step
    def choose(self, inputs):
        """Keep the model with the lowest loss."""
        best = min(inputs, key=lambda i: i.loss)
        self.best_lr, self.best_loss = best.lr, best.loss
        self.losses = {i.lr: i.loss for i in inputs}
        self.next(self.report)

    @card
    @step
    def report(self):
        """Summarise the search."""
        self.summary = f"best lr {self.best_lr} with loss {self.best_loss}"
        print(self.summary)
        self.next(self.end)

    @step
    def end(self):
        """Done."""
        print("losses:", self.losses)


if __name__ == "__main__":
    TrainFlow()
