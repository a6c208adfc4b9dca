"""Recording a context once and replaying it gives the script rez itself writes."""

from __future__ import annotations

import os

import pytest
from rez.resolved_context import ResolvedContext
from rez.shells import create_shell

from guard.plan import Op, Phase, StartupPlan
from guard.record import RecordingSettings, record_plan
from guard.render import replay_plan
from tests.conftest import EXAMPLE_PACKAGES, SHELLS, require_shell
from tests.corpus import CORPUS, corpus_id

FIXED_TIME = 1_700_000_000.0


def _settings(shell: str, interactive: bool = False) -> RecordingSettings:
    return RecordingSettings(shell=shell, rxt_file="/tmp/session/context.rxt",
                             context_file="/tmp/session/context.sh", interactive=interactive,
                             parent_environ={"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"]})


def _rez_script(context: ResolvedContext, settings: RecordingSettings) -> str:
    # The steps of ResolvedContext.execute_shell in rez 3.4, up to writing the context file.
    executor = context._create_executor(create_shell(settings.shell), settings.parent_environ)
    executor.env.REZ_RXT_FILE = settings.rxt_file
    executor.env.REZ_CONTEXT_FILE = settings.context_file
    context._execute(executor)
    executor.env.REZ_SHELL_INIT_TIMESTAMP = str(int(FIXED_TIME))
    executor.env.REZ_SHELL_INTERACTIVE = "1" if settings.interactive else "0"
    return executor.get_output()


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("repository", "request_"), [pytest.param(r, q, id=corpus_id(r, q)) for r, q in CORPUS])
def test_replayed_script_equals_rez_script(shell: str, repository, request_) -> None:
    require_shell(shell)
    context = ResolvedContext(list(request_), package_paths=[str(repository)])
    settings = _settings(shell)
    plan = record_plan(context, settings, lambda: FIXED_TIME)
    # The plan crosses the process boundary as JSON; replay what comes out of it.
    replayed = replay_plan(StartupPlan.from_dict(plan.to_dict()))
    assert replayed == _rez_script(context, settings)


def _plan(*request: str) -> StartupPlan:
    context = ResolvedContext(list(request), package_paths=[str(EXAMPLE_PACKAGES)])
    return record_plan(context, _settings("bash"), lambda: FIXED_TIME)


def test_actions_carry_variant_and_phase() -> None:
    plan = _plan("studio_config")
    by_key = {action.key: action for action in plan.actions if action.key}
    assert by_key["STUDIO_SITE"].phase is Phase.PRE_COMMANDS
    assert by_key["STUDIO_SITE"].variant == "studio_config-1.0.0[]"
    assert by_key["STUDIO_CONFIG_ROOT"].phase is Phase.COMMANDS
    assert by_key["STUDIO_CONFIG_READY"].phase is Phase.POST_COMMANDS
    assert by_key["REZ_USED_RESOLVE"].phase is Phase.REZ
    assert by_key["REZ_USED_RESOLVE"].variant is None


def test_source_command_info_recorded() -> None:
    plan = _plan("studio_config")
    ops = [action.op for action in plan.actions if action.variant]
    assert Op.SOURCE in ops
    assert Op.COMMAND in ops
    assert Op.INFO in ops


def test_prepend_recorded_as_segment() -> None:
    plan = _plan("studio_plugin", "studio_python_lib")
    prepends = [action for action in plan.actions
                if action.op is Op.APPENDENV and action.key == "PATH" and action.phase is Phase.REZ]
    assert prepends, "rez appends the system paths to PATH"
    assert all(":" not in action.text for action in prepends)


def test_environ_holds_resulting_values() -> None:
    plan = _plan("studio_app")
    root = str(EXAMPLE_PACKAGES / "studio_app" / "2.3.0")
    assert plan.environ["STUDIO_APP_HOME"] == root
    assert plan.environ["PATH"].startswith(root + "/bin:")


def test_plan_json_round_trip() -> None:
    plan = _plan("studio_plugin", "studio_config")
    assert StartupPlan.from_dict(plan.to_dict()) == plan
