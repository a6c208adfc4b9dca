"""Defer the part of rez that a guarded launch imports but never runs, and find rez's plugins faster.

`rez.resolved_context` imports rez's vendored pydot, whose DOT parser imports
pyparsing: about 20 ms of CPU time per launch with rez 3.4 (measured with
bench/launch_bench.py, see docs/benchmarks.md). Only reading a resolve graph
from DOT text runs that parser, which a launch does at most in the recording
child, for `--fail-graph`. `defer_dot_parser` puts a stand-in module in its
place that imports the real parser on the first attribute read.

rez finds the packages that extend `rezplugins` by listing every module on
sys.path with `pkgutil.iter_modules()`, which lists the contents of every
folder on it to tell packages from plain folders: about 12 ms per launch here,
most of it in the standard library's folders. `find_plugin_packages` gives the
same list by checking each folder for a `rezplugins/__init__.py` first.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
import types
from importlib.machinery import FileFinder
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


def find_plugin_packages() -> list[str] | None:
    """Return the folders of the top-level packages on sys.path that hold a `rezplugins` package.

    The list is the one rez 3.4's `rezplugins_module_paths` computes, in the
    same order. Returns None where pkgutil would list modules this function
    cannot (a zip file on sys.path, an import hook that lists modules itself).
    """
    if any(hasattr(finder, "iter_modules") for finder in sys.meta_path):
        return None
    folders = []
    for entry in sys.path:
        finder = pkgutil.get_importer(entry)
        if finder is None:
            continue
        if not isinstance(finder, FileFinder):
            return None
        folders.append(finder.path)

    found: list[str] = []
    claimed: set[str] = set()
    listings = [_listing(folder) for folder in folders]
    for index, folder in enumerate(folders):
        for name in listings[index]:
            if "." in name or name in claimed:
                continue
            path = os.path.join(folder, name)
            if os.path.isfile(os.path.join(path, "rezplugins", "__init__.py")) and _is_package(path):
                # pkgutil yields each name once, for the first folder on sys.path that has a module of that name.
                if not any(_claims(folders[earlier], listings[earlier], name) for earlier in range(index)):
                    found.append(path)
                claimed.add(name)
    return found


def _listing(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _is_package(path: str) -> bool:
    # pkgutil's test for a folder: any file in it whose module name is __init__.
    try:
        return any(inspect.getmodulename(name) == "__init__" for name in os.listdir(path))
    except OSError:
        return False


def _claims(folder: str, listing: list[str], name: str) -> bool:
    # Whether pkgutil yields `name` for this folder: a module file, or a package folder.
    for filename in listing:
        if filename == name:
            path = os.path.join(folder, filename)
            if os.path.isdir(path) and _is_package(path):
                return True
        elif inspect.getmodulename(filename) == name:
            return True
    return False


def speed_up_plugin_search() -> bool:
    """Give rez's plugin manager the list of plugin packages found by `find_plugin_packages`; return whether it did.

    Call it after rez is imported and before any plugin is loaded.
    """
    from rez.plugin_managers import plugin_manager

    if "rezplugins_module_paths" in vars(plugin_manager):
        return False
    folders = find_plugin_packages()
    if folders is None:
        return False
    plugin_manager.rezplugins_module_paths = folders
    return True
