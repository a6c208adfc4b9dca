"""The approval prompt on a real terminal (pexpect), and remembered approvals."""

from __future__ import annotations

import json

import shutil
from pathlib import Path

import pexpect

from guard.errors import ExitCode
from tests.conftest import EXAMPLE_PACKAGES, require_shell
from tests.guard_run import GUARD, event_record, last_session, run_guard

EXAMPLES = ["--paths", str(EXAMPLE_PACKAGES)]
QUESTION = "Approve this environment?"
TYPED_QUESTION = "type once, remember or deny"


def _spawn(*args: str) -> pexpect.spawn:
    child = pexpect.spawn(GUARD[0], [*GUARD[1:], *args], encoding="utf-8", timeout=60,
                          dimensions=(40, 200))
    return child


def _finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


def test_approve_once_runs_and_asks_again(tmp_path: Path) -> None:
    child = _spawn("env", *EXAMPLES, "studio_app", "--", "echo", "launched")
    child.expect(QUESTION)
    child.sendline("o")
    child.expect("launched")
    assert _finish(child) == 0
    assert event_record(last_session(), "decision")["decision"] == "approve_once"
    assert event_record(last_session(), "decision")["decided_by"] == "user"

    again = run_guard("env", *EXAMPLES, "studio_app", "--", "true")
    assert again.returncode == ExitCode.DENIED


def test_remembered_approval_skips_prompt() -> None:
    child = _spawn("env", *EXAMPLES, "studio_app", "--", "echo", "launched")
    child.expect(QUESTION)
    child.sendline("r")
    child.expect("launched")
    assert _finish(child) == 0

    trusted = run_guard("env", *EXAMPLES, "studio_app", "--", "echo", "again")
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.strip() == "again"
    assert trusted.stderr.count("\n") == 1
    assert trusted.stderr.startswith("rez-guard: 2 packages, bash, fingerprint ")
    assert event_record(last_session(), "decision")["decided_by"] == "trust_store"


def test_changed_commands_ask_again(tmp_path: Path) -> None:
    repository = tmp_path / "repo"
    shutil.copytree(EXAMPLE_PACKAGES / "studio_app", repository / "studio_app")
    shutil.copytree(EXAMPLE_PACKAGES / "studio_python_lib", repository / "studio_python_lib")
    child = _spawn("env", "--paths", str(repository), "studio_app", "--", "true")
    child.expect(QUESTION)
    child.sendline("r")
    assert _finish(child) == 0
    assert run_guard("env", "--paths", str(repository), "studio_app", "--", "true").returncode == 0

    package_file = repository / "studio_app" / "2.3.0" / "package.py"
    package_file.write_text(package_file.read_text() + "\n# edited\n" +
                            "def commands():\n    env.PATH.prepend('{root}/bin')\n    env.EXTRA = '1'\n")
    changed = run_guard("env", "--paths", str(repository), "studio_app", "--", "true")
    assert changed.returncode == ExitCode.DENIED
    assert "EXTRA" in changed.stderr


def test_deny_answer_remembered(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    child = _spawn("env", *EXAMPLES, "studio_app", "--", "touch", str(marker))
    child.expect(QUESTION)
    child.sendline("d")
    assert _finish(child) == ExitCode.DENIED
    assert not marker.exists()
    assert event_record(last_session(), "decision")["decision"] == "deny"

    # The denial is kept for the context: even --yes is denied until the record is forgotten.
    again = run_guard("env", *EXAMPLES, "studio_app", "--yes", "--", "touch", str(marker))
    assert again.returncode == ExitCode.DENIED
    assert "rez-guard trust forget" in again.stderr
    assert event_record(last_session(), "decision")["decided_by"] == "trust_store"
    assert not marker.exists()


def _trust_entries() -> list[dict]:
    listing = run_guard("trust", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    return json.loads(listing.stdout)


def test_ctrl_c_denies(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    child = _spawn("env", *EXAMPLES, "studio_app", "--", "touch", str(marker))
    child.expect(QUESTION)
    child.sendintr()
    assert _finish(child) == ExitCode.DENIED
    assert not marker.exists()
    assert _trust_entries() == []


def test_end_of_input_denies(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    child = _spawn("env", *EXAMPLES, "studio_app", "--", "touch", str(marker))
    child.expect(QUESTION)
    child.sendeof()
    assert _finish(child) == ExitCode.DENIED
    assert not marker.exists()
    assert _trust_entries() == []


def test_show_details_lists_rez_variables() -> None:
    child = _spawn("env", *EXAMPLES, "studio_app", "--", "true")
    child.expect(QUESTION)
    child.sendline("s")
    child.expect("REZ_STUDIO_APP_ROOT")
    child.expect(QUESTION)
    child.sendline("d")
    assert _finish(child) == ExitCode.DENIED


def test_high_finding_needs_typed_answer(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    child = _spawn("env", *EXAMPLES, "hostile", "--", "touch", str(marker))
    child.expect(TYPED_QUESTION)
    child.sendline("o")
    child.expect("unrecognised answer 'o'")
    child.expect(TYPED_QUESTION)
    child.sendline("once")
    assert _finish(child) == 0
    assert marker.exists()


def test_interactive_shell_session(tmp_path: Path) -> None:
    require_shell("bash")
    child = _spawn("env", *EXAMPLES, "studio_plugin", "--yes", "--norc")
    # The terminal keeps typed lines until the shell reads them, so no need to wait for a prompt.
    child.sendline("echo plugin=$STUDIO_APP_PLUGIN_PATH")
    child.expect("plugin=" + str(EXAMPLE_PACKAGES / "studio_plugin" / "0.4.0" / "plugins"))
    child.sendline("exit 4")
    assert _finish(child) == 4
    assert last_session()[-1]["exit_value"] == 4


def test_ctrl_c_in_shell_keeps_guard() -> None:
    require_shell("bash")
    child = _spawn("env", *EXAMPLES, "studio_app", "--yes", "--norc")
    # Arithmetic in the echo proves the shell, not the terminal's echo, printed the line.
    child.sendline("echo sleeping-$((3+4)); sleep 30")
    child.expect("sleeping-7")
    child.sendintr()
    child.sendline("echo still-$((20+22))")
    child.expect("still-42")
    child.sendline("exit 0")
    assert _finish(child) == 0
