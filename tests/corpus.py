"""The package repositories the end-to-end tests run on, and a request per context."""

from __future__ import annotations

import os
from pathlib import Path

import rez

from tests.conftest import EXAMPLE_PACKAGES

REZ_TEST_DATA = Path(os.path.dirname(rez.__file__)) / "data" / "tests"
SOLVER_PACKAGES = REZ_TEST_DATA / "solver" / "packages"
COMMANDS_PACKAGES = REZ_TEST_DATA / "commands" / "packages"

# (repository, request) pairs that resolve; each is one context of the corpus.
CORPUS = [
    (EXAMPLE_PACKAGES, ("studio_plugin", "studio_config")),
    (EXAMPLE_PACKAGES, ("studio_app", "studio_python_lib-1.0")),
    (EXAMPLE_PACKAGES, ("hostile",)),
    (COMMANDS_PACKAGES, ("rextest2",)),
    (COMMANDS_PACKAGES, ("rextest",)),
    (SOLVER_PACKAGES, ("pyfoo",)),
    (SOLVER_PACKAGES, ("pybah",)),
    (SOLVER_PACKAGES, ("pyvariants", "python-2")),
    (SOLVER_PACKAGES, ("nada",)),
]


def corpus_id(repository: Path, request: tuple[str, ...]) -> str:
    return f"{repository.parent.name if repository.name == 'packages' else repository.name}:{'+'.join(request)}"
