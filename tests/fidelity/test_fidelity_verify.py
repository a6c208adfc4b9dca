"""The check after launch: the environment read back once startup is done, compared with the plan."""

from __future__ import annotations

from pathlib import Path

import pexpect
import pytest

from guard.plan import Op
from guard.verify import PROBE_FILE, Change, Drift, StartupCheck, compare_environ, parse_environ
from shells import adapter_for
from shells.analysis import analyze_plan
from tests.conftest import EXAMPLE_PACKAGES, SHELLS, require_shell
from tests.fidelity.guard_env import ENV_PROGRAM, environ_with, guard_env, launch_environ_of
from tests.fidelity.harness import action, plan_of
from tests.guard_run import GUARD, last_session
from tests.packages import write_package

EXAMPLES = ("--paths", str(EXAMPLE_PACKAGES))


def _drift_records() -> list[dict]:
    return [record for record in last_session() if record["event"] == "drift"]


# -- reading the environment back


def test_parse_environ_keeps_newlines_and_equals() -> None:
    data = b"A=1\0B=x=y\0C=line one\nline two\0D=\xff\0"
    environ = parse_environ(data)
    assert environ["A"] == "1"
    assert environ["B"] == "x=y"
    assert environ["C"] == "line one\nline two"
    assert environ["D"] == "\udcff"


# -- comparing with the plan


def _analysis(shell: str = "bash"):
    plan = plan_of(shell, [
        action(Op.SETENV, "SET", "value"),
        action(Op.SETENV, "RAN", "$(id -u)"),
        action(Op.UNSETENV, "GONE"),
    ])
    return analyze_plan(plan, {"HOME": "/home/user", "GONE": "1", "KEPT": "k"})


def test_compare_accepts_planned_environment() -> None:
    actual = {"HOME": "/home/user", "KEPT": "k", "SET": "value", "RAN": "1000", "PWD": "/anywhere", "SHLVL": "2"}
    assert compare_environ(_analysis(), {"HOME": "/home/user", "GONE": "1", "KEPT": "k"}, actual,
                           adapter_for("bash")) is None


def test_compare_reports_each_change() -> None:
    start = {"HOME": "/home/user", "GONE": "1", "KEPT": "k"}
    actual = {"HOME": "/elsewhere", "SET": "other", "RAN": "0", "GONE": "back", "NEW": "1"}
    drift = compare_environ(_analysis(), start, actual, adapter_for("bash"))
    assert drift is not None
    assert dict(zip(drift.variables, drift.changes)) == {
        "GONE": Change.ADDED,
        "HOME": Change.CHANGED,
        "KEPT": Change.REMOVED,
        "NEW": Change.ADDED,
        "SET": Change.CHANGED,
    }
    assert "5 variables differ" in drift.detail


def test_compare_ignores_rez_wrapper_and_shell_variables() -> None:
    start = {"HOME": "/home/user", "GONE": "1", "KEPT": "k"}
    actual = {"HOME": "/home/user", "KEPT": "k", "SET": "value", "RAN": "1", "REZ_ENV_PROMPT": ">",
              "PS1": "> ", "ZDOTDIR": "/tmp/x", "BASH_FUNC_sapp%%": "() { :; }", "HOST": "vm", "VENDOR": "unknown"}
    # tcsh sets HOST and VENDOR itself; bash does not, so there they are drift.
    assert compare_environ(_analysis(), start, actual, adapter_for("tcsh")) is None
    drift = compare_environ(_analysis(), start, actual, adapter_for("bash"))
    assert drift is not None
    assert drift.variables == ("HOST", "VENDOR")
    assert drift.changes == (Change.ADDED, Change.ADDED)
    assert "0 set or removed by the plan" in drift.detail


def test_drift_line_names_variables() -> None:
    drift = Drift(("FOO", "PATH"), (Change.ADDED, Change.CHANGED), "detail")
    assert drift.line() == ("rez-guard: drift after startup: FOO (added), PATH (changed); "
                            "the environment differs from the approved plan")
    assert "\n" not in drift.line()


# -- end to end


@pytest.mark.parametrize("shell", SHELLS)
def test_clean_launch_reports_no_drift(shell: str) -> None:
    require_shell(shell)
    result = guard_env(*EXAMPLES, "--shell", shell, "studio_plugin", "--yes", "--", ENV_PROGRAM, "-0")
    assert result.returncode == 0, result.stderr
    assert "drift" not in result.stderr
    assert _drift_records() == []


def test_bash_env_override_is_drift(tmp_path: Path) -> None:
    require_shell("bash")
    bash_env = tmp_path / "bash_env.sh"
    bash_env.write_text("export STUDIO_APP_HOME=/elsewhere\nexport DRIFTED=1\n", encoding="utf-8")
    result = guard_env(*EXAMPLES, "studio_plugin", "--yes", "-c", "true",
                       env=environ_with(BASH_ENV=str(bash_env)))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "drift" in line]
    assert lines == ["rez-guard: drift after startup: DRIFTED (added), STUDIO_APP_HOME (changed); "
                     "the environment differs from the approved plan"]
    records = _drift_records()
    assert len(records) == 1
    assert records[0]["variables"] == ["DRIFTED", "STUDIO_APP_HOME"]
    assert "1 set or removed by the plan" in records[0]["detail"]


@pytest.mark.parametrize("shell", ["tcsh", "csh"])
def test_csh_rc_file_is_drift(shell: str, isolated_home: Path) -> None:
    require_shell(shell)
    (isolated_home / ".cshrc").write_text("setenv STUDIO_APP_HOME /elsewhere\n", encoding="utf-8")
    (isolated_home / ".tcshrc").write_text("setenv STUDIO_APP_HOME /elsewhere\n", encoding="utf-8")
    result = guard_env(*EXAMPLES, "--shell", shell, "studio_plugin", "--yes", "-c", "true")
    assert result.returncode == 0, result.stderr
    assert "drift after startup: STUDIO_APP_HOME (changed)" in result.stderr
    assert _drift_records()[0]["variables"] == ["STUDIO_APP_HOME"]


def test_sourced_script_export_is_drift(tmp_path: Path) -> None:
    require_shell("bash")
    folder = write_package(tmp_path / "repo", "sourcing", "1.0", """
        def commands():
            env.SOURCING_ROOT = "{root}"
            source("{root}/setup.sh")
        """)
    (folder / "setup.sh").write_text("export FROM_SCRIPT=1\n", encoding="utf-8")
    result = guard_env("--paths", str(tmp_path / "repo"), "sourcing", "--yes", "-c", "true")
    assert result.returncode == 0, result.stderr
    assert "drift after startup: FROM_SCRIPT (added)" in result.stderr
    assert _drift_records()[0]["variables"] == ["FROM_SCRIPT"]


def test_interactive_bashrc_is_drift(isolated_home: Path) -> None:
    require_shell("bash")
    (isolated_home / ".bashrc").write_text("export FROM_BASHRC=1\n", encoding="utf-8")
    child = pexpect.spawn(GUARD[0], [*GUARD[1:], "env", *EXAMPLES, "studio_plugin", "--yes"],
                          env=launch_environ_of(), encoding="utf-8", timeout=60, dimensions=(40, 200))
    child.expect(r"rez-guard: drift after startup: FROM_BASHRC \(added\)")
    child.sendline("exit 3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 3
    assert _drift_records()[0]["variables"] == ["FROM_BASHRC"]


def test_startup_that_never_finishes_is_reported(tmp_path: Path) -> None:
    require_shell("bash")
    bash_env = tmp_path / "bash_env.sh"
    bash_env.write_text("exit 9\n", encoding="utf-8")
    result = guard_env(*EXAMPLES, "studio_plugin", "--yes", "-c", "true", env=environ_with(BASH_ENV=str(bash_env)))
    assert result.returncode == 9
    assert "rez-guard: drift not checked: the shell exited before its startup finished" in result.stderr
    records = _drift_records()
    assert records[0]["variables"] == []
    assert "not read back" in records[0]["detail"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh", "csh"])
def test_read_back_needs_no_program_on_path(shell: str, isolated_home: Path) -> None:
    # The startup files empty the search path: the probe still reports the change, because
    # env runs by absolute path and the completion marker is the shell's own `:`.
    require_shell(shell)
    for name in (".cshrc", ".tcshrc"):
        (isolated_home / name).write_text("set path=()\n", encoding="utf-8")
    (isolated_home / ".zshrc").write_text("path=()\n", encoding="utf-8")
    # The command is the shell's own echo, which needs no search path either.
    result = guard_env(*EXAMPLES, "--shell", shell, "studio_plugin", "--yes", "-c", "echo done")
    assert result.returncode == 0, result.stderr
    assert "drift after startup: PATH (changed)" in result.stderr
    assert "not read back" not in result.stderr


def test_read_back_waits_for_its_marker(tmp_path: Path) -> None:
    plan = plan_of("bash", [action(Op.SETENV, "STUDIO", "1")])
    reports: list[Drift] = []
    check = StartupCheck(tmp_path, analyze_plan(plan, {}), {}, adapter_for("bash"), reports.append)
    # env has written part of its output, and the shell has not created the marker yet.
    (tmp_path / PROBE_FILE).write_bytes(b"STUDIO=1\0")
    check.start()
    check.stop()
    assert len(reports) == 1
    assert reports[0].variables == ()
    assert "not read back" in reports[0].detail
