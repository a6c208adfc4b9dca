"""Same shell as rez-env: launch every context of the corpus with both and compare the environments.

Each context runs in every shell as `rez-env ... -- env -0` and as
`rez-guard env --yes ... -- env -0`. Ordinary values must match exactly; the
keys in ALLOWED_DIFFERENCES may differ, for the reasons docs/fidelity.md gives.
Where the guard stops a launch the shell could not carry, rez-env must not
have applied the value either.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from guard.errors import ExitCode
from guard.verify import parse_environ
from tests.conftest import SHELLS, require_shell
from tests.corpus import CORPUS, corpus_id
from tests.fidelity.guard_env import ENV_PROGRAM, guard_env, launch_environ_of

REZ_BIN = Path(sys.executable).parent
# The session's own files, and rez's clock in seconds, which ticks between the two launches.
ALLOWED_DIFFERENCES = frozenset({
    "REZ_RXT_FILE",
    "REZ_CONTEXT_FILE",
    "REZ_USED_TIMESTAMP",
    "REZ_SHELL_INIT_TIMESTAMP",
})
# (context id, shell) -> the variable whose value the shell cannot carry; the guard stops there.
STOPPED = {
    ("examples:hostile", "tcsh"): "HOSTILE_USER_ID",
    ("examples:hostile", "csh"): "HOSTILE_USER_ID",
}
BOUND_PACKAGES = ("platform", "arch", "os", "python")
BOUND_CONTEXTS = [("python",), ("platform", "arch", "os")]


@pytest.fixture(scope="module")
def bound_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository of the packages rez-bind makes for this machine."""
    repository = tmp_path_factory.mktemp("bound")
    for name in BOUND_PACKAGES:
        subprocess.run([str(REZ_BIN / "rez-bind"), "-i", str(repository), name], check=True, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    return repository


def _rez_env(repository: Path, shell: str, request: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(REZ_BIN / "rez-env"), "--paths", str(repository), "--shell", shell, *request,
                           "--", ENV_PROGRAM, "-0"], capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
                          env=launch_environ_of())


def compare_with_rez_env(repository: Path, shell: str, request: tuple[str, ...], context: str) -> None:
    rez = _rez_env(repository, shell, request)
    guarded = guard_env("--paths", str(repository), "--shell", shell, *request, "--yes", "--", ENV_PROGRAM, "-0")
    stopped_key = STOPPED.get((context, shell))
    if stopped_key is not None:
        assert guarded.returncode == ExitCode.LAUNCH_FAILED, guarded.stderr
        assert stopped_key in guarded.stderr
        assert shell in guarded.stderr
        assert stopped_key not in parse_environ(rez.stdout)
        return
    assert rez.returncode == 0, rez.stderr.decode(errors="replace")
    assert guarded.returncode == 0, guarded.stderr
    expected = parse_environ(rez.stdout)
    actual = guarded.environ
    differing = sorted(name for name in set(expected) | set(actual)
                       if expected.get(name) != actual.get(name) and name not in ALLOWED_DIFFERENCES)
    assert differing == [], {name: (expected.get(name), actual.get(name)) for name in differing}
    for name in ALLOWED_DIFFERENCES:
        assert (name in expected) == (name in actual), name
    assert "drift" not in guarded.stderr


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("repository", "request_"), [pytest.param(r, q, id=corpus_id(r, q)) for r, q in CORPUS])
def test_corpus_matches_rez_env(shell: str, repository: Path, request_: tuple[str, ...]) -> None:
    require_shell(shell)
    compare_with_rez_env(repository, shell, request_, corpus_id(repository, request_))


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("request_", BOUND_CONTEXTS, ids="+".join)
def test_bound_packages_match_rez_env(shell: str, request_: tuple[str, ...], bound_repository: Path) -> None:
    require_shell(shell)
    compare_with_rez_env(bound_repository, shell, request_, f"bound:{'+'.join(request_)}")

