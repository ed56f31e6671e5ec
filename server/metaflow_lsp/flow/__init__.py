"""The flow model: Metaflow flows read from source with libcst, their graph and their lint.

Nothing here imports or runs user code, or knows about LSP.
"""

from .analysis import Analyzer, analyze_path
from .graph import GraphStructureError, output_steps
from .model import Diagnostic, Flow, FlowFile, FlowGraph, GraphNode, Position, Range, Step

__all__ = [
    "Analyzer",
    "Diagnostic",
    "Flow",
    "FlowFile",
    "FlowGraph",
    "GraphNode",
    "GraphStructureError",
    "Position",
    "Range",
    "Step",
    "analyze_path",
    "output_steps",
]
