"""The stand-in for rez's DOT parser keeps pyparsing out of a launch and still parses graphs."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import EXAMPLE_PACKAGES, REPO_ROOT


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


def _package(folder: Path, name: str, plugins: bool = True, init: bool = True) -> None:
    package = folder / name
    (package / "rezplugins").mkdir(parents=True)
    if init:
        (package / "__init__.py").write_text("")
    if plugins:
        (package / "rezplugins" / "__init__.py").write_text("")


_COMPARE = (
    "from guard.lazy_rez import find_plugin_packages\n"
    "fast = find_plugin_packages()\n"
    "from rez.plugin_managers import plugin_manager\n"
    "print(fast)\n"
    "print(plugin_manager.rezplugins_module_paths)\n"
)


def test_plugin_search_matches_rez(tmp_path: Path) -> None:
    first, second, third = (tmp_path / name for name in ("first", "second", "third"))
    for folder in (first, second, third):
        folder.mkdir()
    _package(first, "studio_plugins")
    _package(second, "studio_plugins")  # the same name later on sys.path: pkgutil lists the first only
    _package(second, "no_init", init=False)  # a plain folder, not a package
    _package(second, "no_plugins", plugins=False)
    (first / "shadowed.py").write_text("")  # a module earlier on sys.path hides the package
    _package(third, "shadowed")
    _package(third, "site_plugins")
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (REPO_ROOT, first, second, third)))}
    result = subprocess.run([sys.executable, "-c", _COMPARE], capture_output=True, text=True, cwd=tmp_path,
                            env=environ, timeout=60, check=True)
    fast, slow = result.stdout.strip().splitlines()
    assert fast == slow
    assert fast == str([str(first / "studio_plugins"), str(third / "site_plugins")])


def test_plugin_search_gives_way_to_zip_entries(tmp_path: Path) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped/__init__.py", "")
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join((str(REPO_ROOT), str(archive)))}
    result = subprocess.run([sys.executable, "-c", _COMPARE], capture_output=True, text=True, cwd=tmp_path,
                            env=environ, timeout=60, check=True)
    assert result.stdout.splitlines()[0] == "None"


def test_preview_never_lists_all_modules() -> None:
    # rez's own search lists every module on sys.path with pkgutil.iter_modules() and no
    # argument; the guard's replaces it. Listing one plugin folder passes that folder.
    output = _run(
        "import pkgutil\n"
        "calls = []\n"
        "listing = pkgutil.iter_modules\n"
        "def spy(*args):\n"
        "    if not args:\n"
        "        calls.append(args)\n"
        "    return listing(*args)\n"
        "pkgutil.iter_modules = spy\n"
        "from guard.cli.main import main\n"
        f"code = main(['env', '--paths', {str(EXAMPLE_PACKAGES)!r}, 'studio_plugin', '--preview'])\n"
        "print(code, len(calls))\n"
    )
    assert output.splitlines()[-1] == "0 0"
