"""Package code runs only in the forked child and cannot change the guard's decision."""

from __future__ import annotations

import os
from pathlib import Path

from guard.errors import ExitCode
from guard.isolation import run_isolated
from guard.trust import TrustStore
from tests.guard_run import event_record, last_session, run_guard
from tests.packages import write_package

REPLACE_GUARD_FUNCTIONS = """
    import guard.decide, guard.fingerprint, guard.trust
    guard.decide.decide_without_prompt = lambda *args, **kwargs: guard.decide.Decision(
        guard.decide.Verdict.APPROVE_ONCE, guard.decide.DecidedBy.TRUST_STORE, "forged")
    guard.fingerprint.fingerprint = lambda plan: "0" * 64
    guard.trust.TrustStore.lookup = lambda self, fingerprint, identity: guard.trust.TrustState.TRUSTED
"""


def test_replaced_guard_functions_change_nothing(tmp_path: Path) -> None:
    write_package(tmp_path / "repo", "meddler", "1.0",
                  "def commands():\n" + REPLACE_GUARD_FUNCTIONS.replace("\n    ", "\n    ") + "    env.MEDDLED = '1'\n")
    marker = tmp_path / "ran"
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "meddler", "--", "touch", str(marker))
    assert result.returncode == ExitCode.DENIED, result.stderr
    assert not marker.exists()
    decision = event_record(last_session(), "decision")
    assert decision["decided_by"] == "no_terminal"
    assert decision["fingerprint"] != "0" * 64


def test_trust_folder_write_in_commands_is_alert(tmp_path: Path) -> None:
    trust_dir = Path(os.environ["XDG_DATA_HOME"]) / "rez-guard"
    TrustStore(trust_dir / "trust.json").remember("f" * 64, "identity", {"request": ["other"]})
    write_package(tmp_path / "repo", "forger", "1.0", f"""
        def commands():
            import os
            try:
                with open(os.path.join({str(trust_dir)!r}, "planted.json"), "w") as handle:
                    handle.write("{{}}")
            except OSError:
                pass  # a careful package hides the failure and returns a normal-looking plan
            env.FORGED = "1"
        """)
    marker = tmp_path / "ran"
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "forger", "--yes", "--", "touch", str(marker))
    # The sandbox denies the write; the attempt is an alert and a blocking finding, whatever --yes says.
    assert result.returncode == ExitCode.DENIED, result.stderr
    assert "sandbox.guard-tamper" in result.stderr
    assert "planted.json" in result.stderr
    assert not marker.exists()
    assert not (trust_dir / "planted.json").exists()
    records = last_session()
    alert = next(record for record in records if record["event"] == "alert")
    assert any(path.endswith("planted.json") for path in alert["paths"])
    decision = next(record for record in records if record["event"] == "decision")
    assert decision["decision"] == "deny"
    assert decision["decided_by"] == "policy"


def test_trust_folder_write_in_package_file_is_alert(tmp_path: Path) -> None:
    trust_file = Path(os.environ["XDG_DATA_HOME"]) / "rez-guard" / "trust.json"
    TrustStore(trust_file).remember("f" * 64, "identity", {"request": ["other"]})
    before = trust_file.read_bytes()
    folder = tmp_path / "repo" / "loader" / "1.0"
    folder.mkdir(parents=True)
    (folder / "package.py").write_text(
        "name = 'loader'\nversion = '1.0'\n"
        f"open({str(trust_file)!r}, 'w').write('{{}}')\n"
        "def commands():\n    env.LOADED = '1'\n")
    result = run_guard("env", "--paths", str(tmp_path / "repo"), "loader", "--yes", "--", "true")
    # The denied write makes package.py fail to load, which stops the launch.
    assert result.returncode == ExitCode.PACKAGE_ERROR, result.stderr
    assert "the sandbox denied write" in result.stderr
    assert "trust.json" in result.stderr
    assert trust_file.read_bytes() == before
    alert = next(record for record in last_session() if record["event"] == "alert")
    assert alert["paths"] == [str(trust_file)]


def test_child_result_is_data() -> None:
    result = run_isolated(lambda: {"pid": os.getpid(), "items": [1, "two"]})
    assert result.failure is None
    assert result.value["items"] == [1, "two"]
    assert result.value["pid"] != os.getpid()


def test_child_failure_comes_back() -> None:
    def fail() -> None:
        raise ValueError("broken package")

    result = run_isolated(fail)
    assert result.failure is not None
    assert result.failure.kind == "InternalError"
    assert "broken package" in result.failure.message
