"""The web view: the HTTP API over the runs API (`server.py`), its host for `metaflow-lsp view`
(`local.py`), and the built front-end (`static/`, from `web/` at the repository's root)."""
