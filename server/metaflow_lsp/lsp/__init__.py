"""The language server: pygls handlers, one module per LSP feature, over the flow model.

`server.create_server()` builds it; the handlers translate lsprotocol to and from `flow/`.
"""
