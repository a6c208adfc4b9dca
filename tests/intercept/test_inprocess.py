"""The guarded shell classes record the same plan in rez's process as the isolated recorder does.

These tests hand rez's real `execute_shell` the guarded classes by replacing the
`create_shell` it calls, which has the effect of registering them as plugins.
The end-to-end tests in test_hooks_e2e.py install the real hooks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import rez.resolved_context
from rez.exceptions import RezError
from rez.resolved_context import ResolvedContext

from guard.fingerprint import fingerprint
from guard.intercept.attribution import code_origin
from guard.intercept.errors import LaunchVetoed
from guard.intercept.inprocess import SpawnArguments, caller_name, launch_in_process
from guard.intercept.shells import GUARDED_SHELLS, GuardedShell
from guard.intercept.site import LaunchSite
from guard.plan import Op, Phase
from guard.record import RecordingSettings, build_plan, detect_system_paths, record_plan
from guard.render import replay_plan
from tests.conftest import EXAMPLE_PACKAGES, SHELLS
from tests.corpus import COMMANDS_PACKAGES
from tests.guard_run import event_record, last_session
from tests.packages import write_package

CONTEXTS = [
    (EXAMPLE_PACKAGES, ("studio_plugin", "studio_config")),
    (EXAMPLE_PACKAGES, ("hostile",)),
    (COMMANDS_PACKAGES, ("rextest2",)),
]
# rez sets these to a new value on every launch; the fingerprint leaves them out too.
VOLATILE = frozenset({"REZ_RXT_FILE", "REZ_CONTEXT_FILE", "REZ_SHELL_INIT_TIMESTAMP"})


def _stable(actions) -> list:
    return [action for action in actions if action.key not in VOLATILE]


class _GuardedFactory:
    """A stand-in for rez's create_shell that returns guarded shells and keeps the last one."""

    def __init__(self) -> None:
        self.last: GuardedShell | None = None

    def __call__(self, shell: str | None = None, **kwargs) -> GuardedShell:
        self.last = GUARDED_SHELLS[shell or "bash"]()
        return self.last


@pytest.fixture
def guarded_factory(monkeypatch: pytest.MonkeyPatch) -> _GuardedFactory:
    factory = _GuardedFactory()
    monkeypatch.setattr(rez.resolved_context, "create_shell", factory)
    return factory


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("repository", "request_"), CONTEXTS, ids=["+".join(request) for _, request in CONTEXTS])
def test_recording_matches_isolated(guarded_factory: _GuardedFactory, shell: str, repository: Path,
                                    request_: tuple[str, ...]) -> None:
    detect_system_paths(shell)
    context = ResolvedContext(list(request_), package_paths=[str(repository)])
    settings = RecordingSettings(shell=shell, rxt_file="/tmp/context.rxt", context_file="/tmp/context.sh",
                                 interactive=False, parent_environ=dict(os.environ))
    isolated = record_plan(context, settings, clock=lambda: 0.0)

    with pytest.raises(LaunchVetoed):
        context.execute_shell(shell=shell, command="true", block=True)
    guarded = guarded_factory.last

    assert _stable(guarded.recorded_actions) == _stable(isolated.actions)
    # The script launched is rendered from the recorded actions; it must be the one rez wrote.
    plan = build_plan(context, shell, guarded.recorded_actions, {})
    assert replay_plan(plan) == guarded.get_output()


def test_fingerprint_matches_isolated(guarded_factory: _GuardedFactory) -> None:
    context = ResolvedContext(["studio_app"], package_paths=[str(EXAMPLE_PACKAGES)])
    settings = RecordingSettings(shell="bash", rxt_file="/tmp/context.rxt", context_file="/tmp/context.sh",
                                 interactive=False, parent_environ=dict(os.environ))
    isolated = record_plan(context, settings, clock=lambda: 0.0)

    with pytest.raises(LaunchVetoed) as raised:
        context.execute_shell(shell="bash", command="true", block=True)
    assert fingerprint(isolated)[:12] in str(raised.value)


def test_package_functions_attributed(guarded_factory: _GuardedFactory, tmp_path: Path) -> None:
    write_package(tmp_path / "repo", "phased", "1.0", """
        def pre_commands():
            env.PHASED_PRE = "1"

        def commands():
            env.PHASED = "1"

        def post_commands():
            env.PHASED_POST = "1"
        """)
    context = ResolvedContext(["phased"], package_paths=[str(tmp_path / "repo")])
    with pytest.raises(LaunchVetoed):
        context.execute_shell(shell="bash", command="true", block=True)

    by_key = {action.key: action for action in guarded_factory.last.recorded_actions if action.op is Op.SETENV}
    assert by_key["PHASED_PRE"].phase is Phase.PRE_COMMANDS
    assert by_key["PHASED"].phase is Phase.COMMANDS
    assert by_key["PHASED_POST"].phase is Phase.POST_COMMANDS
    assert {by_key[key].variant for key in ("PHASED_PRE", "PHASED", "PHASED_POST")} == {"phased-1.0[]"}
    assert by_key["REZ_PHASED_VERSION"].phase is Phase.REZ
    assert by_key["REZ_PHASED_VERSION"].variant is None


def test_forged_header_comment_ignored(guarded_factory: _GuardedFactory, tmp_path: Path) -> None:
    # A package can write rez's header comments itself; attribution comes from the call stack instead.
    write_package(tmp_path / "repo", "forger", "1.0", """
        def commands():
            comment("post_commands from package other-1.0")
            env.FORGED = "1"
        """)
    context = ResolvedContext(["forger"], package_paths=[str(tmp_path / "repo")])
    with pytest.raises(LaunchVetoed):
        context.execute_shell(shell="bash", command="true", block=True)
    forged = next(action for action in guarded_factory.last.recorded_actions if action.key == "FORGED")
    assert forged.phase is Phase.COMMANDS
    assert forged.variant == "forger-1.0[]"


def test_veto_is_audited(guarded_factory: _GuardedFactory, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    context = ResolvedContext(["studio_app"], package_paths=[str(EXAMPLE_PACKAGES)])
    with pytest.raises(RezError) as raised:
        context.execute_shell(shell="sh", command=f"touch {marker}", block=True)
    assert not marker.exists()
    assert "answer 'remember'" in str(raised.value)
    assert "\n" not in str(raised.value)

    records = last_session()
    assert [record["event"] for record in records] == ["session.start", "decision", "error", "session.end"]
    assert records[0]["isolated"] is False
    assert records[0]["route"] == "shell-plugin"
    assert event_record(records, "decision")["decided_by"] == "no_terminal"


def test_spawn_without_execute_shell_shows_file(tmp_path: Path) -> None:
    context_file = tmp_path / "context.sh"
    context_file.write_text("export FROM_FILE=1\n")
    spawn = SpawnArguments(shell="bash", context_file=str(context_file), tmpdir=str(tmp_path), command="true")
    with pytest.raises(LaunchVetoed):
        launch_in_process(spawn, (), LaunchSite())
    decision = event_record(last_session(), "decision")
    assert decision["resolved"] == []
    assert context_file.read_text() == "export FROM_FILE=1\n"


def test_rez_itself_is_not_package_code() -> None:
    assert not code_origin().in_package_code


def test_caller_names_suite_tool() -> None:
    assert caller_name(["/venv/bin/_rez_fwd", "/suites/studio/bin/maya", "-x"]) == "suite tool maya"
    assert caller_name(["/venv/bin/rez-build", "-i"]) == "rez-build"
    assert caller_name([]) == "python"
