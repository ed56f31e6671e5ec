"""`python -m metaflow_lsp` runs the command-line interface."""

from metaflow_lsp.cli import main

if __name__ == "__main__":
    main()
