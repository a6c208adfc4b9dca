"""The shell cache: the variable query and the syntax check run once per shell build and context.

Each test puts a wrapper script named like the shell first on PATH. It appends
its arguments to a log and runs the real shell, so the log counts the shell
processes the guard started, whichever code started them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from shells import adapter_for
from shells.base import ShellAdapter
from shells.cache import (
    CACHE_FOLDER,
    MAX_SYNTAX_ENTRIES,
    RECORDING_LOCK,
    SYNTAX_FILE,
    VARIABLES_FILE,
    ShellCache,
    ShellProgram,
    launch_values,
    syntax_key,
)
from tests.conftest import EXAMPLE_PACKAGES, SHELLS, require_shell
from tests.guard_run import run_guard

CHECKED_SHELLS = tuple(name for name in SHELLS if adapter_for(name).syntax_check_options)
# A context script in each shell's language, and one that does not parse.
VALID_SCRIPTS = {
    "sh": 'export REZ_RXT_FILE="{folder}/context.rxt"\nexport REZ_USED_TIMESTAMP="{time}"\n',
    "bash": 'export REZ_RXT_FILE="{folder}/context.rxt"\nexport REZ_USED_TIMESTAMP="{time}"\n',
    "zsh": 'export REZ_RXT_FILE="{folder}/context.rxt"\nexport REZ_USED_TIMESTAMP="{time}"\n',
    "tcsh": 'setenv REZ_RXT_FILE "{folder}/context.rxt"\nsetenv REZ_USED_TIMESTAMP "{time}"\n',
}
INVALID_SCRIPTS = {
    "sh": "if true; then\necho unclosed\n",
    "bash": "if true; then\necho unclosed\n",
    "zsh": "if true; then\necho unclosed\n",
    "tcsh": 'setenv A "unclosed\n',
}


@dataclass(frozen=True)
class Wrapper:
    """A wrapper script named like a shell, first on PATH, that logs each run."""

    name: str
    path: Path
    log: Path

    def runs(self) -> list[str]:
        """Return the argument lines of every run so far."""
        if not self.log.exists():
            return []
        return self.log.read_text(encoding="utf-8").splitlines()

    def query_runs(self) -> int:
        """Count the runs of the shell's variable query."""
        query = " ".join(adapter_for(self.name).variables_query[1:])
        return sum(1 for line in self.runs() if line == query)

    def check_runs(self) -> int:
        """Count the runs of the syntax check (its script file ends in `.guard-check`)."""
        return sum(1 for line in self.runs() if line.endswith(".guard-check"))

    def rebuild(self) -> None:
        """Change the program file, as installing another build of the shell would."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("# another build\n")


@pytest.fixture
def wrapper(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Wrapper:
    name = request.param
    require_shell(name)
    real = shutil.which(name)
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / f"{name}-runs.log"
    path = folder / name
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {real} "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return Wrapper(name, path, log)


def fresh_adapter(name: str) -> ShellAdapter:
    """Return a new adapter, as a new launch has: `adapter_for` keeps one per process."""
    return type(adapter_for(name))()


def cache_file(name: str) -> Path:
    return Path(os.environ["XDG_STATE_HOME"]) / "rez-guard" / CACHE_FOLDER / name


def launch(shell: str) -> subprocess.CompletedProcess[str]:
    return run_guard("env", "--paths", str(EXAMPLE_PACKAGES), "--shell", shell, "studio_plugin", "studio_config",
                     "--yes", "--", "true")


# -- whole launches


@pytest.mark.parametrize("wrapper", SHELLS, indirect=True)
def test_second_launch_starts_no_query_or_check(wrapper: Wrapper) -> None:
    first = launch(wrapper.name)
    assert first.returncode == 0, first.stderr
    assert wrapper.query_runs() == 1
    assert wrapper.check_runs() == (1 if wrapper.name in CHECKED_SHELLS else 0)

    second = launch(wrapper.name)
    assert second.returncode == 0, second.stderr
    assert wrapper.query_runs() == 1
    assert wrapper.check_runs() == (1 if wrapper.name in CHECKED_SHELLS else 0)


def test_launch_with_unusual_session_folder_checks_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_shell("bash")
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "runs.log"
    bash = folder / "bash"
    bash.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexec {shutil.which("bash")} "$@"\n', encoding="utf-8")
    bash.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    # The session folder is made in TMPDIR; a space is a character the shell parses.
    temporary = tmp_path / "temp files"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))

    for _ in range(2):
        result = launch("bash")
        assert result.returncode == 0, result.stderr

    checks = [line for line in log.read_text(encoding="utf-8").splitlines() if line.endswith(".guard-check")]
    assert len(checks) == 2


# -- the variable query


@pytest.mark.parametrize("wrapper", SHELLS, indirect=True)
def test_variables_cached_per_shell_build(wrapper: Wrapper) -> None:
    first = fresh_adapter(wrapper.name).shell_variables
    assert wrapper.query_runs() == 1

    second = fresh_adapter(wrapper.name).shell_variables
    assert wrapper.query_runs() == 1
    assert second == first

    wrapper.rebuild()
    third = fresh_adapter(wrapper.name).shell_variables
    assert wrapper.query_runs() == 2
    assert third == first
    entries = json.loads(cache_file(VARIABLES_FILE).read_text(encoding="utf-8"))["entries"]
    assert len(entries) == 1
    assert next(iter(entries)).startswith(ShellProgram.at(str(wrapper.path)).key + "\0")


@pytest.mark.parametrize("wrapper", SHELLS, indirect=True)
def test_corrupt_variables_file_ignored_and_rewritten(wrapper: Wrapper) -> None:
    expected = fresh_adapter(wrapper.name).shell_variables
    path = cache_file(VARIABLES_FILE)
    path.write_text('{"format": "rez-guard-shell-cache", "entr', encoding="utf-8")

    names = fresh_adapter(wrapper.name).shell_variables
    assert names == expected
    assert wrapper.query_runs() == 2
    entries = json.loads(path.read_text(encoding="utf-8"))["entries"]
    assert len(entries) == 1
    stored = next(iter(entries.values()))
    assert set(stored) | fresh_adapter(wrapper.name).interactive_variables == expected


@pytest.mark.parametrize("wrapper", ["bash"], indirect=True)
def test_variables_file_writable_by_others_ignored(wrapper: Wrapper) -> None:
    fresh_adapter("bash").shell_variables
    path = cache_file(VARIABLES_FILE)
    path.chmod(path.stat().st_mode | stat.S_IWOTH)

    fresh_adapter("bash").shell_variables
    assert wrapper.query_runs() == 2


# -- the syntax check


@pytest.mark.parametrize("wrapper", SHELLS, indirect=True)
def test_passed_check_cached_across_launch_values(wrapper: Wrapper) -> None:
    if wrapper.name not in CHECKED_SHELLS:
        assert fresh_adapter(wrapper.name).check_syntax("echo hi\n") is None
        assert wrapper.check_runs() == 0
        return
    template = VALID_SCRIPTS[wrapper.name]
    first = template.format(folder="/tmp/rez-guard_abc123", time="1796424859")
    second = template.format(folder="/tmp/rez-guard_xyz_9", time="1796424860")

    assert fresh_adapter(wrapper.name).check_syntax(first, ("/tmp/rez-guard_abc123", "1796424859")) is None
    assert wrapper.check_runs() == 1
    assert fresh_adapter(wrapper.name).check_syntax(second, ("/tmp/rez-guard_xyz_9", "1796424860")) is None
    assert wrapper.check_runs() == 1

    wrapper.rebuild()
    assert fresh_adapter(wrapper.name).check_syntax(second, ("/tmp/rez-guard_xyz_9", "1796424860")) is None
    assert wrapper.check_runs() == 2


@pytest.mark.parametrize("wrapper", CHECKED_SHELLS, indirect=True)
def test_syntax_error_reported_every_time(wrapper: Wrapper) -> None:
    script = INVALID_SCRIPTS[wrapper.name]
    for attempt in (1, 2, 3):
        error = fresh_adapter(wrapper.name).check_syntax(script, ("/tmp/rez-guard_abc123",))
        assert error is not None
        assert wrapper.check_runs() == attempt
    assert not cache_file(SYNTAX_FILE).exists()


@pytest.mark.parametrize("wrapper", CHECKED_SHELLS, indirect=True)
def test_unusual_session_folder_not_cached(wrapper: Wrapper) -> None:
    for folder in ("/tmp/temp files/rez-guard_abc", "/tmp/rez$HOME", "/tmp/rez-guard_*", "relative/rez-guard"):
        script = VALID_SCRIPTS[wrapper.name].format(folder=folder.replace("$", "\\$"), time="1796424859")
        before = wrapper.check_runs()
        for _ in range(2):
            assert fresh_adapter(wrapper.name).check_syntax(script, (folder, "1796424859")) is None
        assert wrapper.check_runs() == before + 2, folder
    assert not cache_file(SYNTAX_FILE).exists()


@pytest.mark.parametrize("wrapper", CHECKED_SHELLS, indirect=True)
def test_corrupt_syntax_file_ignored_and_rewritten(wrapper: Wrapper) -> None:
    script = VALID_SCRIPTS[wrapper.name].format(folder="/tmp/rez-guard_abc", time="1")
    path = cache_file(SYNTAX_FILE)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe not json")

    assert fresh_adapter(wrapper.name).check_syntax(script, ("/tmp/rez-guard_abc",)) is None
    assert wrapper.check_runs() == 1
    assert len(json.loads(path.read_text(encoding="utf-8"))["entries"]) == 1
    assert fresh_adapter(wrapper.name).check_syntax(script, ("/tmp/rez-guard_abc",)) is None
    assert wrapper.check_runs() == 1


# -- keys, bounds and the recording lock


def test_key_masks_session_folder_and_timestamps() -> None:
    program = ShellProgram.find("sh")
    assert program is not None
    first = 'export A="/tmp/rez-guard_a1/context.rxt"\nexport T="100"\n'
    second = 'export A="/tmp/rez-guard_b22/context.rxt"\nexport T="2000"\n'
    other = 'export A="/tmp/rez-guard_b22/context.rxt"\nexport T="2000"\nexport B=1\n'

    first_key = syntax_key(program, ("-n",), first, ("/tmp/rez-guard_a1", "100"))
    assert first_key is not None
    assert syntax_key(program, ("-n",), second, ("/tmp/rez-guard_b22", "2000")) == first_key
    assert syntax_key(program, ("-n",), other, ("/tmp/rez-guard_b22", "2000")) != first_key
    assert syntax_key(program, ("-n", "-f"), first, ("/tmp/rez-guard_a1", "100")) != first_key


def test_key_ignores_equal_timestamps() -> None:
    program = ShellProgram.find("sh")
    assert program is not None
    same_second = 'export A="100"\nexport B="100"\n'
    next_second = 'export A="200"\nexport B="201"\n'

    first_key = syntax_key(program, ("-n",), same_second, ("100", "100"))
    assert syntax_key(program, ("-n",), next_second, ("200", "201")) == first_key


def test_key_with_heredoc_keeps_timestamps_apart() -> None:
    program = ShellProgram.find("sh")
    assert program is not None
    matched = "cat <<E100\nbody\nE100\n"
    unmatched = "cat <<E200\nbody\nE201\n"

    first_key = syntax_key(program, ("-n",), matched, ("100", "100"))
    assert syntax_key(program, ("-n",), unmatched, ("200", "201")) != first_key


def test_key_rejects_script_with_nul() -> None:
    program = ShellProgram.find("sh")
    assert program is not None
    assert syntax_key(program, ("-n",), "echo \0\n", ()) is None


def test_launch_values_lists_folder_and_rez_times() -> None:
    environ = {"REZ_USED_TIMESTAMP": "100", "REZ_SHELL_INIT_TIMESTAMP": "101", "PATH": "/bin"}
    assert launch_values(environ, Path("/tmp/rez-guard_a")) == ("/tmp/rez-guard_a", "100", "101")
    assert launch_values({}, None) == ()


def test_syntax_entries_bounded(tmp_path: Path) -> None:
    cache = ShellCache(tmp_path / CACHE_FOLDER)
    keys = [f"{index:064x}" for index in range(MAX_SYNTAX_ENTRIES + 5)]
    for key in keys:
        cache.store_syntax_passed(key)

    entries = json.loads((tmp_path / CACHE_FOLDER / SYNTAX_FILE).read_text(encoding="utf-8"))["entries"]
    assert entries == keys[5:]
    assert not cache.syntax_passed(keys[0])
    assert cache.syntax_passed(keys[-1])


def test_no_write_while_recording(tmp_path: Path) -> None:
    cache = ShellCache(tmp_path / CACHE_FOLDER)
    with cache.recording():
        cache.store_syntax_passed("a" * 64)
    assert not (tmp_path / CACHE_FOLDER / SYNTAX_FILE).exists()
    assert (tmp_path / CACHE_FOLDER / RECORDING_LOCK).exists()

    cache.store_syntax_passed("a" * 64)
    assert cache.syntax_passed("a" * 64)


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    cache = ShellCache(tmp_path / CACHE_FOLDER)
    cache.store_syntax_passed("b" * 64)
    cache.store_syntax_passed("c" * 64)
    assert sorted(path.name for path in (tmp_path / CACHE_FOLDER).iterdir()) == [RECORDING_LOCK, SYNTAX_FILE]

