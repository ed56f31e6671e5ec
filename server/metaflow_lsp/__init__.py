"""metaflow-lsp: a language server for Metaflow flows."""

__version__ = "0.1.0"
