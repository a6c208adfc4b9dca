"""PendingRexExecutor gives what rez's own RexExecutor gives: actions, interpreter calls, environment, script.

Every comparison runs rez 3.4's executor and the guard's on the same input and
checks the results are equal, on the test corpus, every package of rez's own
test repositories, generated large contexts, and random operation sequences.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rez.exceptions import RezError
from rez.packages import iter_package_families
from rez.resolved_context import ResolvedContext
from rez.rex import ActionInterpreter, ActionManager, EscapedString, Python, RexExecutor
from rez.shells import create_shell

from bench.repositories import write_append_repository, write_wide_repository
from guard.executor import PendingActionManager, PendingEnviron, PendingRexExecutor
from tests.conftest import EXAMPLE_PACKAGES, SHELLS, require_shell
from tests.corpus import CORPUS, REZ_TEST_DATA, corpus_id

PARENT_ENVIRON = {
    "PATH": "/usr/bin:/bin", "HOME": "/home/artist", "MANPATH": "/usr/share/man", "EMPTY": "", "FOO": "foo",
}

# Every package repository rez 3.4 ships for its own tests, plus the examples.
REZ_REPOSITORIES = [
    REZ_TEST_DATA / "commands" / "packages",
    REZ_TEST_DATA / "solver" / "packages",
    REZ_TEST_DATA / "builds" / "packages",
    REZ_TEST_DATA / "suites" / "packages",
    REZ_TEST_DATA / "packages" / "py_packages",
    REZ_TEST_DATA / "packages" / "yaml_packages",
    EXAMPLE_PACKAGES,
]


class CallLog(ActionInterpreter):
    """An interpreter that keeps every call it gets; prepend and append are optional, as in rez's shells."""

    def __init__(self, supports_pend: bool) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.supports_pend = supports_pend

    def _log(self, *call: Any) -> None:
        self.calls.append(tuple(repr(item) for item in call))

    def setenv(self, key, value):
        self._log("setenv", key, value)

    def unsetenv(self, key):
        self._log("unsetenv", key)

    def resetenv(self, key, value, friends=None):
        self._log("resetenv", key, value, friends)

    def prependenv(self, key, value):
        self._log("prependenv", key, value)
        if not self.supports_pend:
            raise NotImplementedError

    def appendenv(self, key, value):
        self._log("appendenv", key, value)
        if not self.supports_pend:
            raise NotImplementedError

    def alias(self, key, value):
        self._log("alias", key, value)

    def info(self, value):
        self._log("info", value)

    def error(self, value):
        self._log("error", value)

    def command(self, value):
        self._log("command", value)

    def comment(self, value):
        self._log("comment", value)

    def source(self, value):
        self._log("source", value)

    def shebang(self):
        self._log("shebang")

    def _saferefenv(self, key):
        self._log("saferefenv", key)

    def get_key_token(self, key):
        self._log("get_key_token", key)
        return "${%s}" % key

    def get_output(self, style=None):
        return list(self.calls)


def _outcome(executor: RexExecutor, run: Callable[[RexExecutor], None]) -> dict[str, Any]:
    """Run `run` on the executor and describe everything it produced, or the error it raised."""
    try:
        run(executor)
        error = None
    except Exception as raised:  # both executors must fail the same way
        error = (type(raised).__name__, str(raised))
    return {
        "error": error,
        "actions": [repr(action) for action in executor.actions],
        "environ": list(dict(executor.manager.environ).items()),
        "output": executor.get_output(),
    }


def _script_or_error(executor: RexExecutor) -> Any:
    # rez 3.4's sh-family plugins write no line for resetenv, so their script then fails to join.
    try:
        return executor.get_output()
    except TypeError as raised:
        return ("TypeError", str(raised))


def _run_context(context: ResolvedContext) -> Callable[[RexExecutor], None]:
    def run(executor: RexExecutor) -> None:
        # The steps of ResolvedContext.execute_shell in rez 3.4, up to writing the script.
        executor.env.REZ_RXT_FILE = "/tmp/session/context.rxt"
        executor.env.REZ_CONTEXT_FILE = "/tmp/session/context.sh"
        context._execute(executor)
        executor.env.REZ_SHELL_INIT_TIMESTAMP = "1700000000"
        executor.env.REZ_SHELL_INTERACTIVE = "0"
        context._execute_bundle_post_actions_callback(executor)
    return run


def _compare_context(context: ResolvedContext, shell: str) -> None:
    rez = RexExecutor(interpreter=create_shell(shell), parent_environ=PARENT_ENVIRON)
    pending = PendingRexExecutor(interpreter=create_shell(shell), parent_environ=PARENT_ENVIRON)
    assert isinstance(pending.manager, PendingActionManager)
    assert _outcome(pending, _run_context(context)) == _outcome(rez, _run_context(context))


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(("repository", "request_"), [pytest.param(r, q, id=corpus_id(r, q)) for r, q in CORPUS])
def test_corpus_context_same_as_rez(shell: str, repository: Path, request_: tuple[str, ...]) -> None:
    context = ResolvedContext(list(request_), package_paths=[str(repository)])
    _compare_context(context, shell)


@pytest.mark.parametrize("repository", REZ_REPOSITORIES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_rez_test_package_same_as_rez(repository: Path) -> None:
    compared = []
    for family in iter_package_families(paths=[str(repository)]):
        try:
            context = ResolvedContext([family.name], package_paths=[str(repository)])
        except RezError:
            continue  # a family rez's own tests use to test resolve failures
        if not context.success:
            continue
        for shell in ("bash", "tcsh"):
            _compare_context(context, shell)
        compared.append(family.name)
    assert compared, f"no package of {repository} resolved"


def test_wide_generated_context_same_as_rez(tmp_path: Path) -> None:
    generated = write_wide_repository(tmp_path / "wide", 60)
    context = ResolvedContext(list(generated.request), package_paths=[str(generated.repository)])
    for shell in SHELLS:
        require_shell(shell)
        _compare_context(context, shell)


def test_append_generated_context_same_as_rez(tmp_path: Path) -> None:
    generated = write_append_repository(tmp_path / "appends", 300)
    context = ResolvedContext(list(generated.request), package_paths=[str(generated.repository)])
    _compare_context(context, "bash")


def test_parent_variables_same_as_rez(tmp_path: Path) -> None:
    context = ResolvedContext(["studio_plugin", "studio_config"], package_paths=[str(EXAMPLE_PACKAGES)])
    for parent_variables in (True, ["PATH", "PYTHONPATH", "STUDIO_APP_PLUGIN_PATH"], ["MISSING"]):
        rez = RexExecutor(interpreter=create_shell("bash"), parent_environ=PARENT_ENVIRON,
                          parent_variables=parent_variables)
        pending = PendingRexExecutor(interpreter=create_shell("bash"), parent_environ=PARENT_ENVIRON,
                                     parent_variables=parent_variables)
        assert _outcome(pending, _run_context(context)) == _outcome(rez, _run_context(context))


def test_expanding_interpreter_keeps_rez_manager() -> None:
    executor = PendingRexExecutor(interpreter=Python(target_environ={}), parent_environ=PARENT_ENVIRON)
    assert type(executor.manager) is ActionManager


def test_pending_manager_bound_in_namespace() -> None:
    executor = PendingRexExecutor(interpreter=create_shell("bash"), parent_environ=PARENT_ENVIRON)
    executor.execute_code("env.FOO = 'a'\nenv.FOO.append('b')\nappendenv('FOO', 'c')\nprependenv('FOO', 'z')")
    assert executor.manager.environ["FOO"] == "z:a:b:c"
    assert [type(action).__name__ for action in executor.actions] == [
        "Shebang", "Setenv", "Appendenv", "Appendenv", "Prependenv"]


def test_environ_joins_pieces_on_read() -> None:
    environ = PendingEnviron()
    environ["A"] = "base"
    environ.append("A", "x", ":")
    environ.prepend("A", "p", "::")
    environ.append("A", "y", " ")
    assert environ["A"] == "p::base:x y"
    environ.prepend("A", "q", ":")
    assert environ["A"] == "q:p::base:x y"
    environ["A"] = "reset"
    assert environ["A"] == "reset"
    del environ["A"]
    assert "A" not in environ
    with pytest.raises(KeyError):
        environ.append("A", "x", ":")


def test_environ_keeps_insertion_order() -> None:
    environ = PendingEnviron()
    environ["B"] = "1"
    environ["A"] = "2"
    environ.append("B", "3", ":")
    del environ["A"]
    environ["A"] = "4"
    assert list(environ.items()) == [("B", "1:3"), ("A", "4")]


# Random operation sequences on a few variables, with values that mix literal
# and expandable parts, reference other variables, and use several separators.
_KEYS = st.sampled_from(["PATH", "MANPATH", "EMPTY", "FOO", "BAR", "${FOO}X", "~user"])
_TEXT = st.sampled_from(["/opt/a", "", "b c", "$FOO/bin", "${PATH}", "~/x", "{root}", "a:b", "$(id)", "'q'"])
_VALUES = st.one_of(
    _TEXT,
    st.builds(lambda first, second: EscapedString(first, True).expandable(second), _TEXT, _TEXT),
    st.builds(lambda first, second: EscapedString(first).literal(second), _TEXT, _TEXT),
)
_OPERATIONS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["setenv", "resetenv", "prependenv", "appendenv"]), _KEYS, _VALUES),
    st.tuples(st.sampled_from(["unsetenv", "getenv", "defined"]), _KEYS),
    st.tuples(st.just("expandvars"), _VALUES),
), max_size=40)


def _apply(manager: ActionManager, operations: list[tuple]) -> list[Any]:
    results: list[Any] = []
    for name, *arguments in operations:
        try:
            results.append(repr(getattr(manager, name)(*arguments)))
        except Exception as raised:  # both managers must fail the same way
            results.append((type(raised).__name__, str(raised)))
    return results


def _manager_outcome(manager_type: type[ActionManager], operations: list[tuple], supports_pend: bool,
                     parent_variables: Any, separators: dict[str, str]) -> dict[str, Any]:
    interpreter = CallLog(supports_pend)
    interpreter.pathsep = ":"
    manager = manager_type(interpreter, parent_environ=PARENT_ENVIRON, parent_variables=parent_variables,
                           formatter=lambda value: str(value).replace("{root}", "/packages/root"),
                           env_sep_map=separators)
    results = _apply(manager, operations)
    return {
        "results": results,
        "actions": [repr(action) for action in manager.actions],
        "calls": interpreter.calls,
        "environ": list(dict(manager.environ).items()),
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    operations=_OPERATIONS,
    supports_pend=st.booleans(),
    parent_variables=st.sampled_from([None, True, ["PATH"], ["PATH", "MANPATH", "EMPTY", "FOO"]]),
    separators=st.sampled_from([{}, {"MANPATH": " "}, {"FOO": "::", "BAR": ";"}, {"BAR": ""}]),
)
def test_random_operations_same_as_rez(operations, supports_pend, parent_variables, separators) -> None:
    expected = _manager_outcome(ActionManager, operations, supports_pend, parent_variables, separators)
    actual = _manager_outcome(PendingActionManager, operations, supports_pend, parent_variables, separators)
    assert actual == expected



_EXECUTOR_KEYS = st.sampled_from([
    "PATH", "FOO", "{root}_DIR", "A{name}", "A{{", "B}}", "$FOO", "${FOO}_X", "%FOO%", "~", "~/X", "X}", "{",
])


class PercentCallLog(CallLog):
    """A CallLog whose variable pattern is `%NAME%`, as in rez's cmd shell, not `$NAME`."""

    ENV_VAR_REGEX = re.compile("%([A-Za-z_][A-Za-z0-9_]*)%")


def _interpreter(kind: str) -> ActionInterpreter:
    if kind == "percent":
        interpreter = PercentCallLog(supports_pend=True)
        interpreter.pathsep = ";"
        return interpreter
    return create_shell(kind)


@settings(max_examples=200, deadline=None)
@given(
    operations=st.lists(st.one_of(
        st.tuples(st.sampled_from(["setenv", "prependenv", "appendenv", "resetenv"]), _EXECUTOR_KEYS, _VALUES),
        st.tuples(st.sampled_from(["unsetenv", "getenv", "defined"]), _EXECUTOR_KEYS),
    ), max_size=30),
    interpreter=st.sampled_from(["bash", "tcsh", "percent"]),
)
def test_random_operations_through_executor_same_as_rez(operations, interpreter) -> None:
    # Through an executor, the manager formats names with rez's own formatter,
    # so names with format fields, variables and `~` take rez's path.
    outcomes = []
    for executor_type in (RexExecutor, PendingRexExecutor):
        executor = executor_type(interpreter=_interpreter(interpreter), parent_environ=PARENT_ENVIRON)
        executor.bind("root", "/packages/root")
        executor.bind("name", "NAME")
        results = _apply(executor.manager, operations)
        outcomes.append({
            "results": results,
            "actions": [repr(action) for action in executor.actions],
            "environ": list(dict(executor.manager.environ).items()),
            "output": _script_or_error(executor),
        })
    assert outcomes[1] == outcomes[0]
