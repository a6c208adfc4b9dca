"""Fixtures for the policy, rule and trust store tests.

Every test runs with HOME and the XDG folders in its own temporary folder.
`record_plan` resolves real rez packages from a copy of `packages/` and records
their actions with rez's own API into a `StartupPlan`, the way the launch
pipeline does, so each rule is triggered by a real package.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from rez.config import config as rez_config
from rez.resolved_context import ResolvedContext
from rez.rex import Action as RexAction
from rez.rex import EscapedString

from guard.plan import Action, Op, Phase, ResolvedVariant, Segment, SourcedFile, StartupPlan

HERE = Path(__file__).parent
NOBODY_UID = 65534

_PHASE_HEADER = re.compile(r"(pre_commands|commands|post_commands) from package (\S+)\Z")
_VARIABLES_HEADER = re.compile(r"variables for package (\S+)\Z")

RecordPlan = Callable[..., StartupPlan]


@pytest.fixture(autouse=True)
def guard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME, the XDG folders and the system policy (empty) at a temporary folder."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    for name in list(os.environ):
        if name.startswith("REZ_GUARD_"):
            monkeypatch.delenv(name)
    system_policy = tmp_path / "etc" / "policy.toml"
    system_policy.parent.mkdir()
    system_policy.write_text("")
    monkeypatch.setenv("REZ_GUARD_POLICY", str(system_policy))
    return home


@pytest.fixture(autouse=True)
def no_rez_system_paths() -> Iterator[None]:
    """Make rez append fixed system folders to PATH instead of asking the login shell.

    Without this, rez runs `bash` with PATH unset to learn its built-in PATH,
    which on many systems ends in '.', so every plan would carry that finding.
    """
    rez_config.override("standard_system_paths", ["/usr/bin", "/bin"])
    yield
    rez_config.remove_override("standard_system_paths")


@pytest.fixture(scope="session")
def package_repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copy the test packages and scripts to a temporary folder and set the permissions git cannot store."""
    base = tmp_path_factory.mktemp("policy-repos")
    for name in ("packages", "local_packages", "scripts"):
        shutil.copytree(HERE / name, base / name, symlinks=True)
    packages = base / "packages"
    (packages / "writabledir" / "1.0.0" / "shared").chmod(0o777)
    (packages / "writablesource" / "1.0.0" / "setup.sh").chmod(0o666)
    if os.geteuid() == 0:
        os.chown(packages / "foreigndir" / "1.0.0" / "vendor", NOBODY_UID, NOBODY_UID)
    return base


@pytest.fixture
def record_plan(package_repos: Path, guard_home: Path) -> RecordPlan:
    """Return a function that resolves a request from the test repositories and records its plan."""

    def record(request: list[str], *, local: bool = False, shell: str = "bash",
               parent_environ: Mapping[str, str] | None = None) -> StartupPlan:
        environ = dict(parent_environ or {"PATH": "/usr/bin:/bin", "HOME": str(guard_home)})
        paths = [str(package_repos / "packages")]
        rez_config.override("local_packages_path", str(package_repos / "local_packages"))
        try:
            if local:
                paths.append(str(package_repos / "local_packages"))
            context = ResolvedContext(request, package_paths=paths)
            assert context.success, f"rez could not resolve {request}: {context.failure_description}"
            rex_actions = context.get_actions(parent_environ=environ)
            resolved_environ = context.get_environ(parent_environ=environ)
            variants = tuple(_variant(variant) for variant in context.resolved_packages)
        finally:
            rez_config.remove_override("local_packages_path")
        actions = tuple(_attributed(rex_actions))
        return StartupPlan(
            shell=shell,
            request=tuple(request),
            variants=variants,
            actions=actions,
            environ={key: resolved_environ[key] for key in _set_keys(actions) if key in resolved_environ},
            package_paths=tuple(paths),
            sourced=tuple(_snapshot(action.text) for action in actions if action.op is Op.SOURCE),
        )

    return record


def _variant(variant) -> ResolvedVariant:
    return ResolvedVariant(
        qualified_name=variant.qualified_name,
        name=variant.name,
        version=str(variant.version),
        uri=variant.uri,
        root=variant.root,
        repository=str(variant.resource._repository),
        is_local=variant.is_local,
    )


def _attributed(rex_actions: list[RexAction]) -> Iterator[Action]:
    # rez marks each package's commands with a comment; the guard's real recorder
    # attributes actions its own way, this is enough for packages we wrote.
    phase, variant = Phase.REZ, None
    for rex_action in rex_actions:
        if rex_action.name == "comment":
            text = str(rex_action.args[0])
            if match := _PHASE_HEADER.match(text):
                phase, variant = Phase(match.group(1)), match.group(2)
            elif match := _VARIABLES_HEADER.match(text):
                phase, variant = Phase.REZ, match.group(1)
            elif text == "post system setup":
                phase, variant = Phase.REZ, None
        yield _convert(rex_action, phase, variant)


def _convert(rex_action: RexAction, phase: Phase, variant: str | None) -> Action:
    op = Op(rex_action.name)
    args = rex_action.args
    if op in (Op.SETENV, Op.RESETENV, Op.PREPENDENV, Op.APPENDENV):
        return Action(op, phase, variant, key=str(args[0]), value=_segments(args[1]))
    if op is Op.UNSETENV:
        return Action(op, phase, variant, key=str(args[0]))
    if op is Op.ALIAS:
        return Action(op, phase, variant, key=str(args[0]), value=_segments(args[1]))
    if op is Op.COMMAND and isinstance(args[0], list | tuple):
        return Action(op, phase, variant, argv=tuple(str(word) for word in args[0]))
    if args:
        return Action(op, phase, variant, value=_segments(args[0]))
    return Action(op, phase, variant)


def _segments(value) -> tuple[Segment, ...]:
    if isinstance(value, EscapedString):
        return tuple(Segment(text, literal) for literal, text in value.strings if text)
    return (Segment(str(value)),)


def _set_keys(actions: tuple[Action, ...]) -> set[str]:
    return {action.key for action in actions if action.key and action.op is not Op.ALIAS}


def _snapshot(path: str) -> SourcedFile:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return SourcedFile(path=path, size=None, sha256=None, error=error.strerror)
    return SourcedFile(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
