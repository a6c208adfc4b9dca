"""Named cases: each ends as exactly one of the three outcomes, through the real `rez-guard env`.

- exact: the launched shell's environment contains the value byte for byte;
- shown: the preview lists what the shell expands or runs, and the result matches it;
- stopped: the launch ends with exit code 7 before the shell starts, naming the variable,
  the shell and why.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pexpect
import pytest

from guard.errors import ExitCode
from tests.conftest import SHELLS, require_shell
from tests.fidelity.guard_env import (
    ENV_PROGRAM,
    environ_with,
    launch_environ_of,
    guard_env,
    launch_environ,
    preview,
    preview_json,
)
from tests.guard_run import GUARD, last_session
from tests.packages import write_package

UID = str(os.getuid())


def _package(tmp_path: Path, body: str, name: str = "case") -> Path:
    repository = tmp_path / "repo"
    write_package(repository, name, "1.0", body)
    return repository


def _assert_stopped(result, shell: str, key: str, why: str) -> None:
    assert result.returncode == ExitCode.LAUNCH_FAILED, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert shell in message
    assert key in message
    assert why in message
    assert ENV_PROGRAM not in result.stderr


# -- command substitution


@pytest.mark.parametrize("value", ["$(id -u)", "`id -u`"])
def test_bash_command_substitution_shown_and_run(tmp_path: Path, value: str) -> None:
    require_shell("bash")
    repository = _package(tmp_path, f"""
        def commands():
            env.PATH.append("/usr/bin")
            env.PATH.append("/bin")
            env.A = {value!r}
        """)
    shown = preview(repository, "bash", "case")
    assert "bash: " + value + " runs the command: id -u" in shown
    launched = launch_environ(repository, "bash", "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["A"] == UID


def test_tcsh_dollar_paren_stopped(tmp_path: Path) -> None:
    require_shell("tcsh")
    repository = _package(tmp_path, """
        def commands():
            env.A = "$(id -u)"
        """)
    assert "cannot start: tcsh stops the startup script: `$(` is an illegal variable name" in \
        preview(repository, "tcsh", "case")
    _assert_stopped(launch_environ(repository, "tcsh", "case"), "tcsh", "A", "illegal variable name")


def test_tcsh_backquote_shown_and_run(tmp_path: Path) -> None:
    require_shell("tcsh")
    repository = _package(tmp_path, """
        def commands():
            env.PATH.append("/usr/bin")
            env.PATH.append("/bin")
            env.A = "`id -u`"
        """)
    assert "tcsh: `id -u` runs the command: id -u" in preview(repository, "tcsh", "case")
    launched = launch_environ(repository, "tcsh", "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["A"] == UID


# -- csh history


@pytest.mark.parametrize("shell", ["tcsh", "csh"])
def test_csh_bang_value_exact(tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    repository = _package(tmp_path, """
        def commands():
            env.V = "!katana"
            env.W = literal("!katana")
        """)
    launched = launch_environ(repository, shell, "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["V"] == "!katana"
    assert launched.environ["W"] == "!katana"


@pytest.mark.parametrize("shell", SHELLS)
def test_bang_value_exact_interactive(tmp_path: Path, shell: str) -> None:
    # An interactive shell substitutes history on the lines it reads; csh also in sourced files.
    require_shell(shell)
    repository = _package(tmp_path, """
        def commands():
            env.V = "!katana"
            env.W = literal("!katana")
        """)
    child = pexpect.spawn(GUARD[0], [*GUARD[1:], "env", "--paths", str(repository), "--shell", shell, "case",
                                     "--yes"], env=launch_environ_of(), encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    # The quotes keep the typed line, which the terminal echoes, from matching the output.
    child.sendline('echo V=$V W=$W DONE""MARK')
    child.expect(r"V=(\S*) W=(\S*) DONEMARK")
    shown = child.match.groups()
    before = child.before
    child.sendline("exit")
    child.expect(pexpect.EOF)
    child.close()
    assert shown == ("!katana", "!katana")
    assert "Event not found" not in before
    assert "event not found" not in before


# -- alias body with shell syntax from the package root


def test_bash_alias_root_with_redirection_shown(tmp_path: Path) -> None:
    require_shell("bash")
    repository = tmp_path / "re<po"
    write_package(repository, "run", "1.0", """
        def commands():
            alias("run", "{root}/bin/run.py")
        """)
    # bash reads `<` in the body as a redirection: it runs `<tmp>/re` with input from `po/run/1.0/bin/run.py`.
    program = tmp_path / "re"
    program.write_text("#!/bin/sh\necho re ran with input: $(cat)\n", encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    work = tmp_path / "work"
    (work / "po" / "run" / "1.0" / "bin").mkdir(parents=True)
    (work / "po" / "run" / "1.0" / "bin" / "run.py").write_text("the input file\n", encoding="utf-8")

    shown = preview(repository, "bash", "run")
    assert f"alias run = {repository}/run/1.0/bin/run.py" in shown
    assert "bash: < (shell syntax, runs as code when the alias is used)" in shown
    launched = guard_env("--paths", str(repository), "--shell", "bash", "run", "--yes", "-c", "run", cwd=work)
    assert launched.returncode == 0, launched.stderr
    assert launched.stdout.decode() == "re ran with input: the input file\n"


# -- PATH-like variables


@pytest.mark.parametrize("shell", ["bash", "tcsh"])
def test_append_to_unset_parent_variable_flags_empty_entry(tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    repository = _package(tmp_path, """
        def commands():
            env.NEWVAR.append("x")
        """)
    environ = environ_with(REZ_PARENT_VARIABLES="NEWVAR")
    environ.pop("NEWVAR", None)
    shown = preview(repository, shell, "case", env=environ)
    assert 'NEWVAR  entry 1 "": empty entry, read as the current folder' in shown
    launched = launch_environ(repository, shell, "case", env=environ)
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["NEWVAR"] == ":x"


def test_no_packages_path_shown(tmp_path: Path) -> None:
    require_shell("bash")
    environ = environ_with(PATH=f"/opt/fidelity-user-bin:{os.environ['PATH']}")
    document = preview_json(tmp_path, "bash", env=environ)
    planned = document["plan"]["environ"]["PATH"]
    entries = document["shell_analysis"]["path_entries"]
    # rez-env replaces PATH with the system paths, and bash's default PATH ends with `.`.
    for position, entry in enumerate(planned.split(":"), start=1):
        if entry == ".":
            assert {"key": "PATH", "position": position, "entry": ".", "origin": "rez",
                    "reason": "the current folder"} in entries
    assert "/opt/fidelity-user-bin" in document["shell_analysis"]["dropped_entries"]["PATH"]
    shown = guard_env("--paths", str(tmp_path), "--shell", "bash", "--preview", env=environ).stderr
    assert "PATH  drops" in shown and "/opt/fidelity-user-bin" in shown

    launched = guard_env("--paths", str(tmp_path), "--shell", "bash", "--yes", "--", ENV_PROGRAM, "-0", env=environ)
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["PATH"] == planned


# -- quotes through set and append


def test_tcsh_quotes_in_value_exact(tmp_path: Path) -> None:
    require_shell("tcsh")
    repository = _package(tmp_path, """
        def commands():
            env.BLA = 'loadPlugin("mayaPlugin")'
            env.BLB = "first"
            env.BLB.append('loadPlugin("mayaPlugin")')
        """)
    launched = launch_environ(repository, "tcsh", "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["BLA"] == 'loadPlugin("mayaPlugin")'
    assert launched.environ["BLB"] == 'first:loadPlugin("mayaPlugin")'


# -- set then reset


@pytest.mark.parametrize("shell", SHELLS)
def test_setenv_then_resetenv_exact(tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    repository = _package(tmp_path, """
        def commands():
            setenv("FOO", "a")
            resetenv("FOO", "b")
        """)
    shown = preview(repository, shell, "case")
    assert "FOO  set  a" in shown
    assert "FOO  reset  b" in shown
    launched = launch_environ(repository, shell, "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["FOO"] == "b"


# -- values csh cannot carry


@pytest.mark.parametrize("shell", ["tcsh", "csh"])
def test_csh_newline_stopped(tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    repository = _package(tmp_path, """
        def commands():
            env.MULTI = "first\\nsecond"
        """)
    _assert_stopped(launch_environ(repository, shell, "case"), shell, "MULTI", "newline")


def test_bash_newline_exact(tmp_path: Path) -> None:
    require_shell("bash")
    repository = _package(tmp_path, """
        def commands():
            env.MULTI = "first\\nsecond"
        """)
    launched = launch_environ(repository, "bash", "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["MULTI"] == "first\nsecond"


def test_tcsh_trailing_dollar_stopped(tmp_path: Path) -> None:
    require_shell("tcsh")
    repository = _package(tmp_path, """
        def commands():
            env.PRICE = "5$"
        """)
    _assert_stopped(launch_environ(repository, "tcsh", "case"), "tcsh", "PRICE", "`$` at the end")
    # The refusal is recorded like any failed launch.
    records = last_session()
    assert records[-2]["event"] == "error"
    assert records[-2]["error"] == "LaunchFailed"


def test_zsh_percent_exact(tmp_path: Path) -> None:
    require_shell("zsh")
    repository = _package(tmp_path, """
        def commands():
            env.FORMAT = "%d%%"
        """)
    launched = launch_environ(repository, "zsh", "case")
    assert launched.returncode == 0, launched.stderr
    assert launched.environ["FORMAT"] == "%d%%"


# -- non-ASCII values


NON_ASCII = {"NBSP": "a\u00a0b", "ZWSP": "a\u200bb", "EMOJI": "fox \U0001f98a"}


@pytest.mark.parametrize("shell", SHELLS)
def test_non_ascii_values_exact(tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    assignments = "\n".join(f"    env.{key} = {value!r}" for key, value in NON_ASCII.items())
    repository = _package(tmp_path, f"def commands():\n{assignments}\n")

    shown = preview(repository, shell, "case")
    assert "NBSP  set  a\\xa0b" in shown
    assert "ZWSP  set  a\\u200bb" in shown
    assert "EMOJI  set  fox \U0001f98a" in shown

    command = "echo \U0001f98a"
    launched = guard_env("--paths", str(repository), "--shell", shell, "case", "--yes", "-c",
                         f"{ENV_PROGRAM} -0; {command}")
    assert launched.returncode == 0, launched.stderr
    environ = launched.environ
    for key, value in NON_ASCII.items():
        assert environ[key] == value
    records = last_session()
    assert records[0]["command"] == f"{ENV_PROGRAM} -0; {command}"
    decision = next(record for record in records if record["event"] == "decision")
    assert set(NON_ASCII) <= set(decision["env_diff"]["added"])
    assert not any(record["event"] == "drift" for record in records)
