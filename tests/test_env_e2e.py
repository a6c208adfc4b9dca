"""`rez-guard env` end to end: real resolves, real shells, no terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from guard.errors import ExitCode
from guard.paths import GuardPaths
from tests.conftest import EXAMPLE_PACKAGES, SHELLS, require_shell
from tests.guard_run import audit_records, event_record, last_session, run_guard
from tests.packages import write_package

EXAMPLES = ["--paths", str(EXAMPLE_PACKAGES)]


def _events(records: list[dict]) -> list[str]:
    return [record["event"] for record in records]


def test_hostile_denied_without_terminal(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run_guard("env", *EXAMPLES, "hostile", "--", "touch", str(marker))
    assert result.returncode == ExitCode.DENIED
    assert "LD_PRELOAD" in result.stderr
    assert "PATH  set  /tmp" in result.stderr
    assert "$(id -u)" in result.stderr
    assert "--yes" in result.stderr.splitlines()[-1]
    assert not marker.exists()
    records = last_session()
    assert _events(records) == ["session.start", "sandbox", "decision", "error", "session.end"]
    assert event_record(records, "decision")["decision"] == "deny"
    assert event_record(records, "decision")["decided_by"] == "no_terminal"


def test_hostile_runs_with_yes(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run_guard("env", *EXAMPLES, "hostile", "--yes", "--", "touch", str(marker))
    assert result.returncode == 0, result.stderr
    assert marker.exists()
    records = last_session()
    assert event_record(records, "decision")["decided_by"] == "yes_flag"
    assert records[-1]["event"] == "session.end"
    assert records[-1]["exit_value"] == 0


@pytest.mark.parametrize("shell", SHELLS)
def test_shell_exit_code_passes_through(shell: str) -> None:
    require_shell(shell)
    result = run_guard("env", *EXAMPLES, "--shell", shell, "studio_plugin", "--yes", "-c", "exit 7")
    assert result.returncode == 7, result.stderr
    assert last_session()[-1]["exit_value"] == 7


@pytest.mark.parametrize("shell", SHELLS)
def test_package_variables_reach_shell(shell: str, tmp_path: Path) -> None:
    require_shell(shell)
    out = tmp_path / "env.txt"
    result = run_guard("env", *EXAMPLES, "--shell", shell, "studio_plugin", "--yes",
                       "-c", f"env > {out}")
    assert result.returncode == 0, result.stderr
    environ = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert environ["STUDIO_APP_HOME"] == str(EXAMPLE_PACKAGES / "studio_app" / "2.3.0")
    assert environ["STUDIO_APP_PLUGIN_PATH"] == str(EXAMPLE_PACKAGES / "studio_plugin" / "0.4.0" / "plugins")
    assert environ["PATH"].startswith(str(EXAMPLE_PACKAGES / "studio_app" / "2.3.0" / "bin"))


def test_argv_after_double_dash_runs() -> None:
    result = run_guard("env", *EXAMPLES, "studio_app", "--yes", "--", "studio_app")
    assert result.returncode == 0, result.stderr
    assert "studio_app 2.3.0 running from" in result.stdout


def test_missing_package_fails_resolve() -> None:
    result = run_guard("env", *EXAMPLES, "no_such_package", "--yes", "--", "true")
    assert result.returncode == ExitCode.RESOLVE_FAILED
    assert result.stderr.count("\n") == 1
    assert "no_such_package" in result.stderr
    records = last_session()
    assert _events(records) == ["session.start", "sandbox", "error", "session.end"]
    assert event_record(records, "error")["exit_code"] == ExitCode.RESOLVE_FAILED


def test_conflict_fails_resolve() -> None:
    result = run_guard("env", *EXAMPLES, "studio_app", "studio_python_lib-2", "--yes", "--", "true")
    assert result.returncode == ExitCode.RESOLVE_FAILED
    assert "resolve failed" in result.stderr


def test_syntax_error_names_package_file(tmp_path: Path) -> None:
    folder = write_package(tmp_path / "repo", "broken", "1.0", "def commands(:\n    pass\n")
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "broken", "--yes", "--", "true")
    assert result.returncode == ExitCode.PACKAGE_ERROR
    assert str(folder / "package.py") in result.stderr
    assert result.stderr.count("\n") == 1


def test_failing_commands_is_package_error(tmp_path: Path) -> None:
    write_package(tmp_path / "repo", "failing", "1.0", """
        def commands():
            raise ValueError("studio server unreachable")
        """)
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "failing", "--yes", "--", "true")
    assert result.returncode == ExitCode.PACKAGE_ERROR
    assert "studio server unreachable" in result.stderr
    assert "failing" in result.stderr


def test_corrupt_trust_store_fails_launch(tmp_path: Path) -> None:
    store = GuardPaths.from_environ(os.environ).trust_store
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"{not json")
    marker = tmp_path / "ran"

    result = run_guard("env", *EXAMPLES, "studio_plugin", "--yes", "--", "touch", str(marker))

    assert result.returncode == ExitCode.CONFIG_ERROR
    assert f"trust store {store} cannot be used" in result.stderr
    assert not marker.exists()
    assert store.read_bytes() == b"{not json"
    records = last_session()
    assert _events(records) == ["session.start", "error", "session.end"]
    assert event_record(records, "error")["exit_code"] == ExitCode.CONFIG_ERROR


def test_unknown_shell_is_usage_error() -> None:
    result = run_guard("env", *EXAMPLES, "--shell", "fish", "studio_app")
    assert result.returncode == ExitCode.USAGE
    assert "unsupported shell 'fish'" in result.stderr


def test_preview_launches_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run_guard("env", *EXAMPLES, "studio_config", "--preview", "--", "touch", str(marker))
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    assert result.stderr.startswith("rez-guard: 1 package, bash, fingerprint ")
    assert "+STUDIO_SITE" in result.stderr.splitlines()[0]
    assert "pre_commands:" in result.stderr
    assert "setup.sh" in result.stderr and "sha256" in result.stderr


def test_preview_json_on_stdout() -> None:
    result = run_guard("env", *EXAMPLES, "hostile", "--preview", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["fingerprint"]) == 64
    assert "LD_PRELOAD" in document["env_diff"]["added"]
    assert {finding["rule"] for finding in document["findings"]}
    keys = [action.get("key") for action in document["plan"]["actions"]]
    assert "LD_PRELOAD" in keys


def test_preview_escapes_terminal_sequences(tmp_path: Path) -> None:
    write_package(tmp_path / "repo", "colourful", "1.0", """
        def commands():
            env.TITLE = "\\x1b]0;owned\\x07red\\x1b[31m"
        """)
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "colourful", "--preview")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr
    assert "\\x1b]0;owned\\x07red\\x1b[31m" in result.stderr


def test_output_then_input_round_trip(tmp_path: Path) -> None:
    rxt = tmp_path / "studio.rxt"
    saved = run_guard("env", *EXAMPLES, "studio_plugin", "-o", str(rxt))
    assert saved.returncode == 0, saved.stderr
    assert json.loads(rxt.read_text())["resolved_packages"]
    loaded = run_guard("env", "-i", str(rxt), "--yes", "-c", "echo $REZ_RXT_FILE")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == str(rxt)


def test_patch_replaces_a_package_of_the_current_context(tmp_path: Path) -> None:
    rxt = tmp_path / "current.rxt"
    saved = run_guard("env", *EXAMPLES, "studio_app", "studio_python_lib-1.0", "-o", str(rxt))
    assert saved.returncode == 0, saved.stderr
    environ = {**os.environ, "REZ_RXT_FILE": str(rxt)}
    patched = run_guard("env", *EXAMPLES, "--patch", "studio_python_lib-1.1", "--yes", "-c",
                        "echo $REZ_STUDIO_PYTHON_LIB_VERSION", env=environ)
    assert patched.returncode == 0, patched.stderr
    assert patched.stdout.strip() == "1.1.0"


def test_patch_outside_a_context_is_usage_error() -> None:
    environ = {name: value for name, value in os.environ.items() if name != "REZ_RXT_FILE"}
    result = run_guard("env", *EXAMPLES, "--patch", "studio_python_lib-1.1", "--yes", "--", "true", env=environ)
    assert result.returncode == ExitCode.USAGE
    assert "cannot patch: not in a rez context" in result.stderr


def test_output_to_stdout() -> None:
    result = run_guard("env", *EXAMPLES, "studio_app", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert "studio_app" in json.loads(result.stdout)["package_requests"][0]


def test_commands_evaluated_once(tmp_path: Path) -> None:
    # The sandbox lets package code write nowhere outside its scratch folder, so the
    # package counts its evaluations on its output, which the guard shows on stderr.
    write_package(tmp_path / "repo", "counted", "1.0", """
        def commands():
            print("counted: commands evaluated")
            env.COUNTED = "1"
        """)
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "counted", "--yes", "-c", "echo $COUNTED")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert result.stderr.count("counted: commands evaluated") == 1


def test_every_session_is_audited(tmp_path: Path) -> None:
    run_guard("env", *EXAMPLES, "hostile", "--", "true")
    run_guard("env", *EXAMPLES, "hostile", "--yes", "--", "true")
    run_guard("env", *EXAMPLES, "missing_package", "--", "true")
    records = audit_records()
    sessions = {record["session"] for record in records}
    assert len(sessions) == 3
    for session in sessions:
        events = [record["event"] for record in records if record["session"] == session]
        assert events[0] == "session.start"
        assert events[-1] == "session.end"
    starts = [record for record in records if record["event"] == "session.start"]
    assert all(record["submituser"] and record["submithost"] and record["submitcwd"] for record in starts)


def test_rez_bind_packages_launch(tmp_path: Path) -> None:
    repository = tmp_path / "bound"
    # rez-bind is installed beside the interpreter running the tests.
    rez_bind = Path(sys.executable).parent / "rez-bind"
    for name in ("platform", "arch", "os", "python"):
        subprocess.run([str(rez_bind), "-i", str(repository), name], check=True, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    result = run_guard("env", "--paths", str(repository), "python", "--yes", "--",
                       "python", "-c", "print('bound python runs')")
    assert result.returncode == 0, result.stderr
    assert "bound python runs" in result.stdout


def test_show_rez_lists_rez_variables() -> None:
    hidden = run_guard("env", *EXAMPLES, "studio_app", "--preview")
    shown = run_guard("env", *EXAMPLES, "studio_app", "--preview", "--show-rez")
    assert "REZ_STUDIO_APP_ROOT" not in hidden.stderr
    assert "REZ_* variables" in hidden.stderr
    assert "REZ_STUDIO_APP_ROOT  set" in shown.stderr


def test_profile_writes_stats(tmp_path: Path) -> None:
    stats_file = tmp_path / "run.prof"
    result = run_guard("env", *EXAMPLES, "studio_app", "--yes", "--profile", str(stats_file), "--", "true")
    assert result.returncode == 0, result.stderr
    assert stats_file.stat().st_size > 0
