"""The startup plan: what a context will do to a shell, as plain data.

The recording child builds a `StartupPlan` by running package commands once; the
parent assesses, fingerprints, previews and renders it without running package
code again. Everything here is frozen and converts to and from JSON-compatible
dicts, because the plan crosses a process boundary as JSON (never pickle: the
child runs untrusted code).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from guard.fastclass import dataclass


class Phase(enum.StrEnum):
    """The emitter of an action: rez itself or one of a package's command functions."""

    REZ = "rez"
    PRE_COMMANDS = "pre_commands"
    COMMANDS = "commands"
    POST_COMMANDS = "post_commands"
    # rez-build and rez-test run these package functions into the same script.
    PRE_BUILD_COMMANDS = "pre_build_commands"
    PRE_TEST_COMMANDS = "pre_test_commands"


class Op(enum.StrEnum):
    """One call on rez's shell interpreter, in the order the shell script runs it."""

    SETENV = "setenv"
    UNSETENV = "unsetenv"
    RESETENV = "resetenv"
    PREPENDENV = "prependenv"
    APPENDENV = "appendenv"
    ALIAS = "alias"
    SOURCE = "source"
    COMMAND = "command"
    INFO = "info"
    ERROR = "error"
    COMMENT = "comment"
    SHEBANG = "shebang"
    SAFEREFENV = "saferefenv"


# Lookups by value that raise KeyError on an unknown value, much faster than Op(value).
_OPS_BY_VALUE: dict[str, Op] = {op.value: op for op in Op}
_PHASES_BY_VALUE: dict[str, Phase] = {phase.value: phase for phase in Phase}

ENV_OPS = frozenset({Op.SETENV, Op.UNSETENV, Op.RESETENV, Op.PREPENDENV, Op.APPENDENV})
STARTUP_COMMAND_OPS = frozenset({Op.SOURCE, Op.COMMAND, Op.ALIAS})


@dataclass(frozen=True, slots=True, bulk=True)
class Segment:
    """A piece of a value: literal text is quoted for the shell, other text is expandable."""

    text: str
    literal: bool = False


@dataclass(frozen=True, slots=True, bulk=True)
class Action:
    """One recorded interpreter call with the variant and phase that emitted it.

    `value` is the value as rez passed it to the interpreter: unexpanded, so a
    `$VAR` in it is expanded by the shell at startup. For a command given as a
    list, `argv` contains the words and `value` is empty.
    """

    op: Op
    phase: Phase
    variant: str | None = None
    key: str | None = None
    value: tuple[Segment, ...] = ()
    argv: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        """The value with its segments joined, as shown in the preview."""
        if self.argv is not None:
            return " ".join(self.argv)
        return "".join(segment.text for segment in self.value)

    @property
    def expandable_text(self) -> str:
        """Only the segments the shell expands (the literal ones it does not)."""
        return "".join(segment.text for segment in self.value if not segment.literal)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op.value, "phase": self.phase.value}
        if self.variant is not None:
            data["variant"] = self.variant
        if self.key is not None:
            data["key"] = self.key
        if self.value:
            data["value"] = [[segment.text, segment.literal] for segment in self.value]
        if self.argv is not None:
            data["argv"] = list(self.argv)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Action:
        # A plan can hold thousands of actions, so this avoids Enum() calls and
        # generator expressions; it still converts every field to its type.
        variant = data.get("variant")
        key = data.get("key")
        value = data.get("value")
        argv = data.get("argv")
        return cls(
            _OPS_BY_VALUE[data["op"]],
            _PHASES_BY_VALUE[data["phase"]],
            None if variant is None else str(variant),
            None if key is None else str(key),
            tuple([Segment(str(text), bool(literal)) for text, literal in value]) if value else (),
            None if argv is None else tuple([str(word) for word in argv]),
        )


@dataclass(frozen=True, slots=True, bulk=True)
class ResolvedVariant:
    """A package variant in the resolve, with where it was loaded from."""

    qualified_name: str
    name: str
    version: str
    uri: str
    root: str
    repository: str
    is_local: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "qualified_name": self.qualified_name,
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "root": self.root,
            "repository": self.repository,
            "is_local": self.is_local,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedVariant:
        return cls(
            qualified_name=str(data["qualified_name"]),
            name=str(data["name"]),
            version=str(data["version"]),
            uri=str(data["uri"]),
            root=str(data["root"]),
            repository=str(data["repository"]),
            is_local=bool(data["is_local"]),
        )


@dataclass(frozen=True, slots=True)
class SourcedFile:
    """A snapshot of a file that the startup script sources, taken by the parent."""

    action_index: int
    path: str
    size: int | None
    sha256: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action_index": self.action_index, "path": self.path, "size": self.size,
                "sha256": self.sha256, "error": self.error}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourcedFile:
        return cls(
            action_index=int(data["action_index"]),
            path=str(data["path"]),
            size=data.get("size"),
            sha256=data.get("sha256"),
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class StartupFile:
    """A file the shell reads at startup besides the context, and when."""

    path: str
    order: str  # "before" or "after" the package commands
    exists: bool

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "order": self.order, "exists": self.exists}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StartupFile:
        return cls(path=str(data["path"]), order=str(data["order"]), exists=bool(data["exists"]))


@dataclass(frozen=True, slots=True)
class StartupPlan:
    """The recorded, attributed actions of one context for one shell.

    `environ` maps to the value rez computed for every variable the context sets,
    from the parent environment at recording time; `unset` lists the variables
    it removes. Both feed the env diff and the check after launch, never the
    fingerprint.
    """

    shell: str
    request: tuple[str, ...]
    variants: tuple[ResolvedVariant, ...]
    actions: tuple[Action, ...]
    environ: Mapping[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    package_paths: tuple[str, ...] = ()
    sourced: tuple[SourcedFile, ...] = ()
    startup_files: tuple[StartupFile, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "shell": self.shell,
            "request": list(self.request),
            "variants": [variant.to_dict() for variant in self.variants],
            "actions": [action.to_dict() for action in self.actions],
            "environ": dict(self.environ),
            "unset": list(self.unset),
            "package_paths": list(self.package_paths),
            "sourced": [sourced.to_dict() for sourced in self.sourced],
            "startup_files": [startup.to_dict() for startup in self.startup_files],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StartupPlan:
        return cls(
            shell=str(data["shell"]),
            request=tuple(str(item) for item in data["request"]),
            variants=tuple(ResolvedVariant.from_dict(item) for item in data["variants"]),
            actions=tuple([Action.from_dict(item) for item in data["actions"]]),
            environ={str(key): str(value) for key, value in data.get("environ", {}).items()},
            unset=tuple(str(item) for item in data.get("unset", ())),
            package_paths=tuple(str(item) for item in data.get("package_paths", ())),
            sourced=tuple(SourcedFile.from_dict(item) for item in data.get("sourced", ())),
            startup_files=tuple(StartupFile.from_dict(item) for item in data.get("startup_files", ())),
        )

    def variant_named(self, qualified_name: str | None) -> ResolvedVariant | None:
        """Return the resolved variant with this qualified name, if any."""
        for variant in self.variants:
            if variant.qualified_name == qualified_name:
                return variant
        return None


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
