"""The stand-in for rez's DOT parser keeps pyparsing out of a launch and still parses graphs."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60, check=True)
    return result.stdout.strip()


def test_resolved_context_import_skips_pyparsing() -> None:
    output = _run(
        "import sys\n"
        "from guard.lazy_rez import defer_dot_parser\n"
        "print(defer_dot_parser())\n"
        "import rez.resolved_context\n"
        "print('rez.vendor.pyparsing' in sys.modules)\n"
    )
    assert output.split() == ["True", "False"]


def test_graph_parses_after_deferral() -> None:
    output = _run(
        "import sys\n"
        "from guard.lazy_rez import defer_dot_parser\n"
        "defer_dot_parser()\n"
        "from rez.utils.graph_utils import read_graph_from_string\n"
        "graph = read_graph_from_string('digraph g { a -> b; b -> c }')\n"
        "print(sorted(graph.nodes()), 'rez.vendor.pyparsing' in sys.modules)\n"
        "graph = read_graph_from_string('digraph g { x -> y }')\n"
        "print(sorted(graph.nodes()))\n"
    )
    assert output.splitlines() == ["['a', 'b', 'c'] True", "['x', 'y']"]


def test_deferral_skipped_when_parser_loaded() -> None:
    output = _run(
        "import rez.vendor.pydot\n"
        "from guard.lazy_rez import defer_dot_parser\n"
        "print(defer_dot_parser())\n"
    )
    assert output == "False"
