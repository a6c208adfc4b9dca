"""Defer the part of rez that a guarded launch imports but never runs.

`rez.resolved_context` imports rez's vendored pydot, whose DOT parser imports
pyparsing: about 20 ms of CPU time per launch with rez 3.4 (measured with
bench/launch_bench.py, see docs/benchmarks.md). Only reading a resolve graph
from DOT text runs that parser, which a launch does at most in the recording
child, for `--fail-graph`. `defer_dot_parser` puts a stand-in module in its
place that imports the real parser on the first attribute read.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# NOTE: the module path in rez 3.4's vendored pydot. If rez moves it, nothing imports
# this name and the stand-in stays unused, so launches get slower but never wrong.
DOT_PARSER_MODULE = "rez.vendor.pydot.dot_parser"


def _real_dot_parser() -> types.ModuleType:
    module = sys.modules.get(DOT_PARSER_MODULE)
    if module is None or module is _STAND_IN:
        sys.modules.pop(DOT_PARSER_MODULE, None)
        module = importlib.import_module(DOT_PARSER_MODULE)
    return module


def _read_attribute(name: str) -> Any:
    # Module-level __getattr__ (PEP 562): called only for names the stand-in does not have.
    return getattr(_real_dot_parser(), name)


_STAND_IN = types.ModuleType(DOT_PARSER_MODULE, "Stand-in for rez's DOT parser; imports it on first use.")
_STAND_IN.__getattr__ = _read_attribute  # type: ignore[method-assign]


def defer_dot_parser() -> bool:
    """Put the stand-in in sys.modules unless the DOT parser is imported already; return whether it did."""
    if DOT_PARSER_MODULE in sys.modules:
        return False
    sys.modules[DOT_PARSER_MODULE] = _STAND_IN
    return True
