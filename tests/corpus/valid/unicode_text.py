from metaflow import FlowSpec, environment, step


class UnicodeTextFlow(FlowSpec):
    """Ünïcödé flow — 日本語のドキュメント 🚀."""

    @step
    def start(self):
        """Démarrage — étape initiale 🚀."""
        self.greeting = "héllo wörld 🚀"; self.next(self.mid)  # noqa: E702

    @environment(vars={"GREETING": "héllo 🚀", "ΑΒΓ": "δ"})
    @step
    def mid(self):
        msg = "日本語 🚀"; self.next({"日本": self.end, "🚀": self.end}, condition="greeting")  # noqa: E702

    @step
    def end(self):  # Ω après la fin
        print(self.greeting)


if __name__ == "__main__":
    UnicodeTextFlow()
