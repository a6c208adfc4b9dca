"""The hooks end to end: a real rez 3.4.0 in a fresh virtual environment, as a user runs it.

Every guarded route is shown asking on a terminal (pexpect) and denying
without one. The routes the hooks cannot see run unguarded, as
docs/interception.md describes, and uninstalling the hooks gives plain rez back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pexpect
import pytest

from guard.errors import ExitCode
from guard.intercept.routes import RouteState
from tests.conftest import EXAMPLE_PACKAGES, REPO_ROOT, SHELLS, require_shell
from tests.guard_run import audit_records, event_record, last_session
from tests.intercept.conftest import RezVenv, last_line
from tests.packages import write_package

PATHS = str(EXAMPLE_PACKAGES)
QUESTION = "Approve this environment?"
ISOLATION_NOTICE = "rez-guard: isolation: none"
STUDIO_APP_HOME = str(EXAMPLE_PACKAGES / "studio_app" / "2.3.0")

EXECUTE_SHELL = """
    import sys
    from rez.exceptions import RezError
    from rez.resolved_context import ResolvedContext

    context = ResolvedContext(["studio_app"], package_paths=[{paths!r}])
    try:
        code, _, _ = context.execute_shell(shell=sys.argv[1], command=sys.argv[2], block=True)
    except RezError as error:
        print(f"vetoed by {{type(error).__name__}}: {{error}}")
        sys.exit(3)
    print(f"shell exited {{code}}")
"""


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).format(paths=PATHS), encoding="utf-8")
    return path


def _finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def _approve_on_terminal(child: pexpect.spawn, answer: str = "o") -> str:
    child.expect(QUESTION)
    shown = child.before
    child.sendline(answer)
    return shown


def _routes(venv: RezVenv, *command: str) -> dict[str, str]:
    result = venv.run(*command, "status", "--json")
    assert result.returncode == 0, result.stderr
    return {route["name"]: route["state"] for route in json.loads(result.stdout)["routes"]}


# -- install, status, `rez guard`


def test_install_guards_every_hooked_route(hooked: RezVenv) -> None:
    routes = _routes(hooked, "rez-guard")
    assert routes["rez-env, rez env"] == RouteState.GUARDED
    assert routes["rez guard"] == RouteState.GUARDED
    for shell in SHELLS:
        assert routes[f"{shell} shell plugin"] == RouteState.GUARDED
    assert routes["ResolvedContext.execute_command"] == RouteState.NOT_GUARDED


def test_rez_guard_subcommand_equals_rez_guard(hooked: RezVenv) -> None:
    through_rez = hooked.run("rez", "guard", "status")
    direct = hooked.run("rez-guard", "status")
    assert through_rez.returncode == direct.returncode == 0
    assert through_rez.stdout == direct.stdout
    assert "Usage: rez-guard env" in hooked.run("rez", "guard", "env", "--help").stdout
    assert "Usage: rez-guard [OPTIONS]" in hooked.run("rez", "guard", "-h").stdout


def test_every_status_route_documented(hooked: RezVenv) -> None:
    documentation = (REPO_ROOT / "docs" / "interception.md").read_text(encoding="utf-8")
    for name in _routes(hooked, "rez-guard"):
        assert f"`{name}`" in documentation, name


# -- rez-env and rez env: the isolated pipeline


def test_rez_env_denied_without_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = hooked.run("rez-env", "--paths", PATHS, "studio_app", "--", "touch", str(marker))
    assert result.returncode == ExitCode.DENIED
    assert last_line(result.stderr).startswith("rez-guard: error: launch denied (no_terminal)")
    assert not marker.exists()
    records = last_session()
    assert records[0]["runargv"][0].endswith("rez-env")
    assert records[0]["isolated"] is True


def test_rez_env_asks_on_terminal(hooked: RezVenv) -> None:
    child = hooked.spawn("rez-env", "--paths", PATHS, "studio_app", "--", "printenv", "STUDIO_APP_HOME")
    shown = _approve_on_terminal(child)
    assert "STUDIO_APP_HOME  set" in shown
    assert ISOLATION_NOTICE not in shown
    child.expect(STUDIO_APP_HOME)
    assert _finish(child) == 0
    assert event_record(last_session(), "decision")["decided_by"] == "user"


def test_rez_env_ctrl_c_denies(hooked: RezVenv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    child = hooked.spawn("rez-env", "--paths", PATHS, "studio_app", "--", "touch", str(marker))
    child.expect(QUESTION)
    child.sendintr()
    assert _finish(child) == ExitCode.DENIED
    assert not marker.exists()
    assert event_record(last_session(), "decision")["decision"] == "deny"


def test_rez_env_subcommand_guarded(hooked: RezVenv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    denied = hooked.run("rez", "env", "--paths", PATHS, "studio_app", "--", "touch", str(marker))
    assert denied.returncode == ExitCode.DENIED
    assert not marker.exists()
    approved = hooked.run("rez", "env", "--paths", PATHS, "studio_app", "--yes", "--", "touch", str(marker))
    assert approved.returncode == 0, approved.stderr
    assert marker.exists()


@pytest.mark.parametrize("shell", SHELLS)
def test_rez_env_shell_option(hooked: RezVenv, shell: str) -> None:
    require_shell(shell)
    result = hooked.run("rez-env", "--shell", shell, "--paths", PATHS, "studio_app", "--yes",
                        "-c", "echo $STUDIO_APP_HOME; exit 4")
    assert result.returncode == 4, result.stderr
    assert result.stdout.strip() == STUDIO_APP_HOME
    assert last_session()[0]["shell"] == shell


def test_rez_env_options_as_before(hooked: RezVenv, tmp_path: Path) -> None:
    rxt = tmp_path / "studio.rxt"
    # Abbreviated options are rez-env's (argparse) and keep working through the hook.
    saved = hooked.run("rez-env", "--path", PATHS, "--no-imp", "studio_app", "-o", str(rxt))
    assert saved.returncode == 0, saved.stderr
    assert json.loads(rxt.read_text())["implicit_packages"] == []
    loaded = hooked.run("rez-env", "-i", str(rxt), "--yes", "-c", "echo $REZ_RXT_FILE")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == str(rxt)
    invalid = hooked.run("rez-env", "--no-such-option", "studio_app")
    assert invalid.returncode == 2
    assert "unrecognized arguments: --no-such-option" in invalid.stderr


# -- shell plugins: execute_shell, suite tools, rez-build, rez-test


@pytest.mark.parametrize("shell", SHELLS)
def test_execute_shell_vetoed_without_terminal(hooked: RezVenv, tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    script = _script(tmp_path, "launcher.py", EXECUTE_SHELL)
    marker = tmp_path / "ran"
    result = hooked.run("python", str(script), shell, f"touch {marker}")
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("vetoed by LaunchVetoed: rez-guard denied this " + shell)
    assert "answer 'remember'" in result.stdout
    assert not marker.exists()
    assert ISOLATION_NOTICE in result.stderr
    start = last_session()[0]
    assert (start["isolated"], start["route"], start["shell"]) == (False, "shell-plugin", shell)


@pytest.mark.parametrize("shell", SHELLS)
def test_execute_shell_asks_on_terminal(hooked: RezVenv, tmp_path: Path, shell: str) -> None:
    require_shell(shell)
    script = _script(tmp_path, "launcher.py", EXECUTE_SHELL)
    child = hooked.spawn("python", str(script), shell, "echo home=$STUDIO_APP_HOME; exit 5")
    shown = _approve_on_terminal(child)
    assert ISOLATION_NOTICE in shown
    assert "STUDIO_APP_HOME  set" in shown
    child.expect(f"home={STUDIO_APP_HOME}")
    child.expect("shell exited 5")
    assert _finish(child) == 0
    records = last_session()
    assert records[-1]["event"] == "session.end"
    assert records[-1]["exit_value"] == 5


def test_execute_shell_deny_answer(hooked: RezVenv, tmp_path: Path) -> None:
    script = _script(tmp_path, "launcher.py", EXECUTE_SHELL)
    marker = tmp_path / "ran"
    child = hooked.spawn("python", str(script), "bash", f"touch {marker}")
    _approve_on_terminal(child, "d")
    child.expect("vetoed by LaunchVetoed")
    assert _finish(child) == 3
    assert not marker.exists()


def test_remembered_approval_shared_with_rez_env(hooked: RezVenv, tmp_path: Path) -> None:
    child = hooked.spawn("rez-env", "--paths", PATHS, "studio_app", "--", "true")
    _approve_on_terminal(child, "r")
    assert _finish(child) == 0

    script = _script(tmp_path, "launcher.py", EXECUTE_SHELL)
    result = hooked.run("python", str(script), "bash", "exit 0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "shell exited 0"
    assert event_record(last_session(), "decision")["decided_by"] == "trust_store"


def _make_suite(venv: RezVenv, tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    script = _script(tmp_path, "make_suite.py", f"""
        from rez.resolved_context import ResolvedContext
        from rez.suite import Suite

        suite = Suite()
        suite.add_context("studio", ResolvedContext(["studio_app"], package_paths=[{{paths!r}}]))
        suite.save({str(suite)!r})
        """)
    result = venv.run("python", str(script))
    assert result.returncode == 0, result.stderr
    return suite / "bin" / "studio_app"


def test_suite_tool_vetoed_without_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    tool = _make_suite(hooked, tmp_path)
    result = hooked.run(str(tool))
    assert result.returncode == 1
    assert "LaunchVetoed: rez-guard denied this bash shell" in last_line(result.stderr)
    assert "studio_app 2.3.0 running" not in result.stdout
    assert last_session()[0]["caller"] == "suite tool studio_app"


def test_suite_tool_asks_on_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    tool = _make_suite(hooked, tmp_path)
    child = hooked.spawn(str(tool))
    shown = _approve_on_terminal(child)
    assert "isolation: none (suite tool studio_app" in shown
    child.expect("studio_app 2.3.0 running from")
    assert _finish(child) == 0


def _buildable_package(tmp_path: Path) -> Path:
    return write_package(tmp_path / "source", "buildable", "1.0", f"""
        build_command = "touch {tmp_path / 'built'}"
        tests = {{"check": "echo tested=$BUILDABLE_VAR pre=$BUILDABLE_PRE_TEST"}}

        def commands():
            env.BUILDABLE_VAR = "from-commands"

        def pre_test_commands():
            env.BUILDABLE_PRE_TEST = "1"
        """)


def test_rez_build_vetoed_without_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    source = _buildable_package(tmp_path)
    repository = tmp_path / "repository"
    result = hooked.run("rez-build", "-i", "-p", str(repository), cwd=source)
    assert result.returncode == 1
    assert "LaunchVetoed" in last_line(result.stderr)
    assert not (tmp_path / "built").exists()
    assert not list(repository.glob("buildable/1.0/package.py"))


def test_rez_build_asks_on_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    source = _buildable_package(tmp_path)
    repository = tmp_path / "repository"
    child = hooked.spawn("rez-build", "-i", "-p", str(repository), cwd=source)
    shown = _approve_on_terminal(child)
    assert "isolation: none (rez-build" in shown
    assert _finish(child) == 0
    assert (tmp_path / "built").exists()
    assert (repository / "buildable" / "1.0" / "package.py").exists()


def _installed_buildable(tmp_path: Path) -> Path:
    # rez-test needs the package in a repository, not a build: its package.py is all it reads.
    repository = tmp_path / "repository"
    shutil.copytree(_buildable_package(tmp_path), repository / "buildable" / "1.0")
    return repository


def test_rez_test_vetoed_without_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    repository = _installed_buildable(tmp_path)
    result = hooked.run("rez-test", "--paths", str(repository), "buildable", "check")
    assert result.returncode == 1
    assert "LaunchVetoed" in last_line(result.stderr)
    assert "tested=from-commands" not in result.stdout


def test_rez_test_asks_on_terminal(hooked: RezVenv, tmp_path: Path) -> None:
    repository = _installed_buildable(tmp_path)
    child = hooked.spawn("rez-test", "--paths", str(repository), "buildable", "check")
    shown = _approve_on_terminal(child)
    assert "pre_test_commands:" in shown
    assert "BUILDABLE_PRE_TEST  set  1" in shown
    child.expect("tested=from-commands pre=1")
    assert _finish(child) == 0


def test_untested_rez_version_denied(hooked: RezVenv, tmp_path: Path) -> None:
    launcher = _script(tmp_path, "launcher.py", EXECUTE_SHELL)
    untested = tmp_path / "untested.py"
    untested.write_text(f"import rez, runpy\nrez.__version__ = '3.99.0'\n"
                        f"runpy.run_path({str(launcher)!r}, run_name='__main__')\n")
    marker = tmp_path / "ran"
    result = hooked.run("python", str(untested), "bash", f"touch {marker}")
    assert result.returncode == 3
    assert "vetoed by UntestedRezVersion" in result.stdout
    assert "rez 3.99.0 is installed" in result.stdout
    assert not marker.exists()


# -- routes the hooks cannot see: they run without rez-guard, as documented


def test_execute_command_not_guarded(hooked: RezVenv, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = _script(tmp_path, "execute_command.py", f"""
        from rez.resolved_context import ResolvedContext

        context = ResolvedContext(["studio_app"], package_paths=[{{paths!r}}])
        context.execute_command(["touch", {str(marker)!r}]).wait()
        """)
    result = hooked.run("python", str(script))
    assert result.returncode == 0, result.stderr
    assert marker.exists()
    assert audit_records() == []


def test_get_environ_not_guarded(hooked: RezVenv, tmp_path: Path) -> None:
    script = _script(tmp_path, "get_environ.py", """
        import subprocess
        from rez.resolved_context import ResolvedContext

        environ = ResolvedContext(["studio_app"], package_paths=[{paths!r}]).get_environ()
        subprocess.run(["printenv", "STUDIO_APP_HOME"], env=environ, check=True)
        """)
    result = hooked.run("python", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == STUDIO_APP_HOME
    assert audit_records() == []


def test_rez_context_interpret_not_guarded(hooked: RezVenv, tmp_path: Path) -> None:
    rxt = tmp_path / "studio.rxt"
    assert hooked.run("rez-env", "--paths", PATHS, "studio_app", "-o", str(rxt)).returncode == 0
    script = hooked.run("rez-context", "-i", "-f", "bash", str(rxt))
    assert script.returncode == 0, script.stderr
    shell = tmp_path / "eval.sh"
    shell.write_text(script.stdout + "\nprintenv STUDIO_APP_HOME\n")
    records_before = len(audit_records())
    result = subprocess.run(["bash", str(shell)], env=hooked.environ(), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert result.stdout.strip().splitlines()[-1] == STUDIO_APP_HOME
    assert len(audit_records()) == records_before


# -- uninstall


def test_uninstall_restores_plain_rez(hooked: RezVenv, tmp_path: Path) -> None:
    hooked.uninstall_hooks()
    try:
        routes = _routes(hooked, "rez-guard")
        assert routes["rez-env, rez env"] == RouteState.NOT_GUARDED
        for shell in SHELLS:
            assert routes[f"{shell} shell plugin"] == RouteState.NOT_GUARDED
        assert hooked.run("rez", "guard", "status").returncode != 0

        marker = tmp_path / "ran"
        plain = hooked.run("rez-env", "--paths", PATHS, "studio_app", "--", "touch", str(marker))
        assert plain.returncode == 0, plain.stderr
        assert marker.exists()
        assert "rez-guard" not in plain.stderr

        script = _script(tmp_path, "launcher.py", EXECUTE_SHELL)
        api = hooked.run("python", str(script), "bash", "exit 0")
        assert api.stdout.strip() == "shell exited 0"
        assert audit_records() == []
    finally:
        hooked.install_hooks()


def test_uninstall_twice_is_harmless(hooked: RezVenv) -> None:
    hooked.uninstall_hooks()
    try:
        again = hooked.run("rez-guard", "hooks", "uninstall")
        assert again.returncode == 0
        assert "not installed" in again.stderr
    finally:
        hooked.install_hooks()
