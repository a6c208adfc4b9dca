"""Startup files: the preview lists the files the shell reads, in the order it reads them.

Each user startup file appends its name to a log, and the context appends
`context`. Launching the real shell must write the log in the order the
preview listed, with the package commands where the preview put them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pexpect
import pytest

from shells import StartupOptions, adapter_for
from tests.conftest import require_shell
from tests.fidelity.guard_env import environ_with, guard_env, launch_environ_of, preview_json
from tests.guard_run import GUARD
from tests.packages import write_package

MARK = 'echo {name} >> "$FIDELITY_LOG"\n'

# (shell, mode, options, user files): the files exist in HOME and each writes its name to the log.
CASES = [
    ("bash", "command", (), ("benv.sh",)),
    ("bash", "interactive", (), (".bashrc", ".bash_profile", ".profile")),
    ("bash", "interactive", ("--rcfile", "{home}/custom.rc"), (".bashrc", "custom.rc")),
    ("bash", "interactive", ("--norc",), (".bashrc",)),
    ("sh", "interactive", (), (".profile", "envfile.sh")),
    ("sh", "interactive", ("--norc",), (".profile", "envfile.sh")),
    ("zsh", "command", (), (".zshenv", ".zshrc", ".zprofile", ".zlogin")),
    ("zsh", "interactive", (), (".zshenv", ".zshrc", ".zprofile")),
    ("zsh", "interactive", ("--norc",), (".zshenv", ".zshrc")),
    ("tcsh", "command", (), (".tcshrc", ".cshrc", ".login")),
    ("tcsh", "interactive", (), (".tcshrc", ".cshrc", ".login")),
    ("tcsh", "interactive", ("--norc",), (".tcshrc",)),
    ("csh", "command", (), (".cshrc", ".login")),
    ("csh", "interactive", (), (".cshrc", ".tcshrc")),
]


def _case_id(case: tuple) -> str:
    shell, mode, options, _ = case
    return "-".join([shell, mode, *(option.strip("-") for option in options if option.startswith("--"))])


def _prepare(tmp_path: Path, home: Path, files: tuple[str, ...]) -> tuple[Path, dict[str, str]]:
    for name in files:
        (home / name).write_text(MARK.format(name=name), encoding="utf-8")
    log = tmp_path / "startup.log"
    # With fixed system paths rez does not start a shell to find them, which would read the files too.
    environ = environ_with(FIDELITY_LOG=str(log), REZ_STANDARD_SYSTEM_PATHS="/usr/bin:/bin")
    if "benv.sh" in files:
        environ["BASH_ENV"] = str(home / "benv.sh")
    if "envfile.sh" in files:
        environ["ENV"] = str(home / "envfile.sh")
    return log, environ


def _expected_order(startup_files: list[dict], home: Path) -> list[str]:
    # The files in HOME as the preview lists them, with the context between `before` and `after`.
    before = [Path(item["path"]).name for item in startup_files
              if item["order"] == "before" and item["path"].startswith(str(home))]
    after = [Path(item["path"]).name for item in startup_files
             if item["order"] == "after" and item["path"].startswith(str(home))]
    return [*before, "context", *after]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_startup_files_run_in_previewed_order(tmp_path: Path, isolated_home: Path, case: tuple) -> None:
    shell, mode, options, files = case
    require_shell(shell)
    home = isolated_home
    options = tuple(option.format(home=home) for option in options)
    repository = tmp_path / "repo"
    write_package(repository, "marker", "1.0", """
        def commands():
            command('echo context >> "$FIDELITY_LOG"')
        """)
    log, environ = _prepare(tmp_path, home, files)
    arguments = ["--paths", str(repository), "--shell", shell, "marker", *options]
    command = ("-c", "true") if mode == "command" else ()

    document = preview_json(repository, shell, "marker", extra=(*options, *command), env=environ)
    expected = _expected_order(document["plan"]["startup_files"], home)
    log.unlink(missing_ok=True)

    if mode == "command":
        result = guard_env(*arguments, "--yes", *command, env=environ)
        assert result.returncode == 0, result.stderr
    else:
        child = pexpect.spawn(GUARD[0], [*GUARD[1:], "env", *arguments, "--yes"], env=launch_environ_of(environ),
                              encoding="utf-8",
                              timeout=60, dimensions=(40, 200), cwd=str(tmp_path))
        child.sendline("exit 0")
        child.expect(pexpect.EOF)
        child.close()
    assert log.read_text(encoding="utf-8").split() == expected


@pytest.mark.parametrize("shell", ["bash", "sh", "zsh", "tcsh", "csh"])
def test_startup_files_list_only_existing(shell: str, isolated_home: Path) -> None:
    adapter = adapter_for(shell)
    files = adapter.startup_files(StartupOptions(), {"HOME": str(isolated_home)})
    assert all(item.exists and os.path.isfile(item.path) for item in files)
    assert not any(item.path.startswith(str(isolated_home)) for item in files)


def test_bash_command_mode_lists_bash_env_twice(isolated_home: Path) -> None:
    bash_env = isolated_home / "benv.sh"
    bash_env.write_text("true\n", encoding="utf-8")
    files = adapter_for("bash").startup_files(StartupOptions(command="true"),
                                              {"HOME": str(isolated_home), "BASH_ENV": str(bash_env)})
    assert [(item.path, item.order) for item in files] == [(str(bash_env), "before"), (str(bash_env), "after")]


def test_zsh_interactive_reads_zshenv_before_context(isolated_home: Path) -> None:
    for name in (".zshenv", ".zshrc", ".zlogin"):
        (isolated_home / name).write_text("true\n", encoding="utf-8")
    files = adapter_for("zsh").startup_files(StartupOptions(), {"HOME": str(isolated_home)})
    user = [(Path(item.path).name, item.order) for item in files if item.path.startswith(str(isolated_home))]
    assert user == [(".zshenv", "before"), (".zshenv", "before"), (".zshrc", "after")]
