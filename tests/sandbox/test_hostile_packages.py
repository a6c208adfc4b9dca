"""Hostile rez packages through a whole guarded session: blocked, named in the preview and the audit log.

Each package attacks from its package.py top-level code (run while rez loads it
during the resolve) or from commands() (run while the plan is recorded). Every
attack is wrapped in try/except, so the resolve completes and the preview lists
what the sandbox denied.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from guard.audit import AuditOptions, AuditSession, open_audit_log
from guard.decide import Verdict
from guard.errors import Denied, PackageError
from guard.findings import Severity
from guard.paths import GuardPaths
from guard.policy import Policy
from guard.request import LaunchRequest
from guard.sandbox.seccomp import kernel_supports_notify, table_for_machine
from guard.session import Collaborators, run_session
from guard.trust import TrustStore

pytestmark = pytest.mark.skipif(
    table_for_machine() is None or not kernel_supports_notify(),
    reason="naming denied operations needs the seccomp layer with user notification")

# Each attack is Python run by package code; {port}, {trust} and {fd} are filled in per test.
ATTACKS = {
    "tcp": "socket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'stolen')",
    "program": "subprocess.run(['/usr/bin/id'], check=False)",
    "double_fork": """
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:
                time.sleep(600)
            os._exit(0)
        os.waitpid(pid, 0)
    """,
    "trust_write": "open({trust!r}, 'a').write('approved everything')",
    "inherited_fd": "os.write({fd}, b'approved everything')",
    "reopened_fd": "open('/proc/%d/fd/{fd}' % os.getppid(), 'a').write('approved everything')",
    "attach": """
        c_library = ctypes.CDLL(None, use_errno=True)
        c_library.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        if c_library.ptrace(16, os.getppid(), None, None) == 0:
            # Only if the sandbox failed: detach, so the test fails instead of leaving the guard stopped.
            os.waitpid(os.getppid(), 0x40000000)
            c_library.ptrace(17, os.getppid(), None, None)
        open('/proc/%d/mem' % os.getppid(), 'r+b')
    """,
}

# The findings each attack must produce: (rule, text in the message).
EXPECTED = {
    "tcp": [("sandbox.network", "AF_INET stream socket")],
    "program": [("sandbox.fork", "tried to start a process")],
    "double_fork": [("sandbox.fork", "tried to start a process")],
    "trust_write": [("sandbox.guard-tamper", "trust.json")],
    "inherited_fd": [("sandbox.guard-tamper", "descriptor")],
    "reopened_fd": [("sandbox.guard-tamper", "trust.json")],
    "attach": [("sandbox.guard-tamper", "trace or read another process: pid"),
               ("sandbox.guard-tamper", "/mem")],
}

# The operations each attack must leave in the audit log's sandbox record: (operation, against the guard).
RECORDED = {
    "tcp": [("network", False)],
    "program": [("fork", False)],
    "double_fork": [("fork", False)],
    "trust_write": [("write", True)],
    "inherited_fd": [("inherited-descriptor", True)],
    "reopened_fd": [("write", True)],
    "attach": [("ptrace", True), ("write", True)],
}

IMPORTS = "import ctypes, os, socket, subprocess, time"


def guarded(attack: str, values: dict[str, object]) -> str:
    """Return `attack` inside try/except, indented by four spaces."""
    code = textwrap.indent(textwrap.dedent(ATTACKS[attack]).strip().format(**values), " " * 8)
    return f"    try:\n        {IMPORTS}\n{code}\n    except Exception:\n        pass\n"


def attack_source(attack: str, where: str, values: dict[str, object]) -> str:
    """Return the body of a package.py that runs `attack` at top level or in commands()."""
    if where == "top":
        return f"if True:\n{guarded(attack, values)}\n\ndef commands():\n    env.HOSTILE_LOADED = '1'\n"
    return f"def commands():\n    env.HOSTILE_RECORDED = '1'\n{guarded(attack, values)}"


@dataclass
class RecordingUI:
    """A LaunchUI that keeps what it was given and denies when asked."""

    shown: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def show(self, text: str) -> None:
        self.shown.append(text)

    def output(self, text: str) -> None:
        self.outputs.append(text)

    def ask(self, preview: str, details: str, typed: bool) -> Verdict:
        return Verdict.DENY


@dataclass
class Session:
    """What one guarded session left behind."""

    ui: RecordingUI
    audit: list[dict]

    def events(self, name: str) -> list[dict]:
        return [record for record in self.audit if record["event"] == name]


def run_guarded(request: LaunchRequest, paths: GuardPaths, policy: Policy | None = None) -> Session:
    """Run one session non-interactively and return its UI and audit records (Denied propagates)."""
    ui = RecordingUI()
    parts = Collaborators(
        paths=paths,
        policy=policy or Policy(),
        trust=TrustStore(paths.trust_store),
        audit=AuditSession(open_audit_log(AuditOptions(paths.audit_log))),
        ui=ui,
        interactive=False,
        parent_environ={"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"]},
    )
    session = Session(ui, [])
    try:
        run_session(request, parts)
    finally:
        lines = paths.audit_log.read_text(encoding="utf-8").splitlines()
        session.audit.extend(json.loads(line) for line in lines)
    return session


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """An empty package repository."""
    folder = tmp_path / "packages"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("where", ["top", "commands"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_package_blocked_and_named(attack, where, repository, guard_paths, listener, write_package):
    trust = guard_paths.trust_store
    trust_before = trust.read_bytes()
    inherited = os.open(trust, os.O_WRONLY | os.O_APPEND)
    name = f"{attack}_{where}"
    write_package(repository, name, attack_source(attack, where, {"port": listener.port, "trust": str(trust),
                                                                   "fd": inherited}))
    children_before = {process.pid for process in psutil.Process().children(recursive=True)}
    request = LaunchRequest(packages=(name,), paths=str(repository), preview=True, json=True, shell="bash")

    try:
        session = run_guarded(request, guard_paths)
    finally:
        os.close(inherited)

    preview = json.loads(session.ui.outputs[-1])
    variant = preview["plan"]["variants"][0]["qualified_name"]
    findings = [finding for finding in preview["findings"] if finding["rule"].startswith("sandbox.")]
    for rule, text in EXPECTED[attack]:
        matching = [finding for finding in findings if finding["rule"] == rule and text in finding["message"]]
        assert matching, f"no {rule} finding naming {text!r} in {findings}"
        assert all(finding["variant"] == variant for finding in matching)
    assert "seccomp" in preview["sandbox"]["active"]

    (sandbox_record,) = session.events("sandbox")
    recorded = {(entry["operation"], entry["layer"], entry["against_guard"]) for entry in sandbox_record["denied"]}
    for operation, against_guard in RECORDED[attack]:
        assert (operation, "seccomp", against_guard) in recorded
    assert sandbox_record["active"] == preview["sandbox"]["active"]

    assert trust.read_bytes() == trust_before
    assert listener.connections() == 0
    children_after = {process.pid for process in psutil.Process().children(recursive=True)}
    assert children_after <= children_before


def test_hostile_package_leaves_decision_unchanged(repository, guard_paths, listener, write_package):
    values = {"port": listener.port, "trust": str(guard_paths.trust_store), "fd": 0}
    attacks = "".join(guarded(attack, values) for attack in sorted(ATTACKS))
    write_package(repository, "hostile", f"def commands():\n    env.HOSTILE = '1'\n{attacks}")
    write_package(repository, "benign", "def commands():\n    env.BENIGN = '1'\n")
    trust_before = guard_paths.trust_store.read_bytes()

    decisions = {}
    for name in ("benign", "hostile"):
        request = LaunchRequest(packages=(name,), paths=str(repository), shell="bash", command="true")
        with pytest.raises(Denied):
            run_guarded(request, guard_paths)
        lines = guard_paths.audit_log.read_text(encoding="utf-8").splitlines()
        decision = [json.loads(line) for line in lines if json.loads(line)["event"] == "decision"][-1]
        decisions[name] = (decision["decision"], decision["decided_by"])

    assert decisions["benign"] == ("deny", "no_terminal")
    # The attempts on the guard are a blocking finding, so the policy denies before any prompt.
    assert decisions["hostile"] == ("deny", "policy")
    assert guard_paths.trust_store.read_bytes() == trust_before
    assert listener.connections() == 0


def test_policy_can_block_on_sandbox_finding(repository, guard_paths, listener, write_package):
    write_package(repository, "network", attack_source("tcp", "commands", {"port": listener.port}))
    policy = Policy(severities={"sandbox.network": Severity.BLOCK})
    request = LaunchRequest(packages=("network",), paths=str(repository), shell="bash", command="true", yes=True)

    with pytest.raises(Denied, match="sandbox.network"):
        run_guarded(request, guard_paths, policy)
    assert listener.connections() == 0


def test_package_output_shown_escaped(repository, guard_paths, write_package):
    write_package(repository, "noisy", "print('\\x1b[2Jfake prompt: approved')\n\ndef commands():\n    pass\n")
    request = LaunchRequest(packages=("noisy",), paths=str(repository), preview=True, shell="bash")

    session = run_guarded(request, guard_paths)

    assert "\\x1b[2Jfake prompt: approved" in session.ui.shown
    assert not any("\x1b" in text for text in session.ui.shown)


def test_unhandled_denial_names_sandbox(repository, guard_paths, write_package):
    trust = guard_paths.trust_store
    trust_before = trust.read_bytes()
    write_package(repository, "careless", f"open({str(trust)!r}, 'a').write('approved')\n")
    request = LaunchRequest(packages=("careless",), paths=str(repository), preview=True, shell="bash")

    with pytest.raises(PackageError, match=r"the sandbox denied write .*trust\.json"):
        run_guarded(request, guard_paths)
    assert trust.read_bytes() == trust_before


def test_clean_session_records_layers_only(repository, guard_paths, write_package):
    write_package(repository, "clean", "def commands():\n    env.CLEAN = '1'\n")
    request = LaunchRequest(packages=("clean",), paths=str(repository), preview=True, json=True, shell="bash")

    session = run_guarded(request, guard_paths)

    (record,) = session.events("sandbox")
    preview = json.loads(session.ui.outputs[-1])
    assert record["active"] == preview["sandbox"]["active"]
    assert "seccomp" in record["active"]
    assert record["denied"] == []
    assert record["protected_changes"] == []
