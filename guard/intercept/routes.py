"""Which routes to a rez shell pass rez-guard on this host, as rez itself loads them now.

The state is read from rez's plugin manager and command table in this process,
which is rez's own Python (rez-guard depends on rez), so it shows what a rez
command started from this environment loads.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import rez
from rez.plugin_managers import plugin_manager

from guard.fastclass import dataclass
from guard.intercept.companion import (
    DISTRIBUTION,
    PLUGIN_PACKAGE,
    SHELL_PLUGINS,
    installed_hooks,
    neutral_environ,
)
from guard.intercept.plain import PLAIN_CLASS_ATTRIBUTE
from guard.intercept.versions import TESTED_REZ_VERSIONS, installed_rez_version, is_tested


class RouteState(enum.StrEnum):
    """Whether launches on a route pass rez-guard."""

    GUARDED = "guarded"
    NOT_GUARDED = "not guarded"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class Route:
    """One way to reach a rez shell, and whether rez-guard is on it."""

    name: str
    state: RouteState
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "state": self.state.value, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class InterceptionStatus:
    """rez's version and location, the companion distribution, and every route's state."""

    rez_version: str
    rez_location: str
    rez_tested: bool
    hooks_version: str | None
    hooks_location: str | None
    rez_env_on_path: str | None
    rez_env_in_this_environment: bool
    routes: tuple[Route, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rez_version": self.rez_version,
            "rez_location": self.rez_location,
            "rez_tested": self.rez_tested,
            "tested_rez_versions": list(TESTED_REZ_VERSIONS),
            "hooks": None if self.hooks_version is None else {
                "distribution": DISTRIBUTION, "version": self.hooks_version, "location": self.hooks_location},
            "rez_env_on_path": self.rez_env_on_path,
            "rez_env_in_this_environment": self.rez_env_in_this_environment,
            "routes": [route.to_dict() for route in self.routes],
        }


ENV_ROUTE = "rez-env, rez env"
GUARD_ROUTE = "rez guard"
# The routes that rez-guard-hooks' entry points cover.
HOOKED_ROUTE_NAMES = frozenset({ENV_ROUTE, GUARD_ROUTE, *(f"{name} shell plugin" for name in SHELL_PLUGINS)})

# Routes that never reach a shell plugin or the env command, so no hook can see them.
_UNHOOKABLE_ROUTES = (
    Route("ResolvedContext.execute_command", RouteState.NOT_GUARDED,
          "runs the command with the context's environment in Python, with no shell plugin"),
    Route("get_environ() or apply() + own subprocess", RouteState.NOT_GUARDED,
          "the caller starts its own process with the environment"),
    Route("rez-context -i + eval", RouteState.NOT_GUARDED,
          "prints the context script; the user's shell runs it"),
)


def _command_route(name: str, label: str, detail: str) -> Route:
    # rez's command line gives a command plugin precedence over its built-in command of the same name.
    # Reading the plugin manager avoids importing rez.cli._util, which replaces the SIGINT handler.
    if name not in plugin_manager.get_plugins("command"):
        builtin = f"rez.cli.{name}"
        if importlib.util.find_spec(builtin) is None:
            return Route(label, RouteState.NOT_GUARDED, f"rez has no {name} command")
        return Route(label, RouteState.NOT_GUARDED, f"rez runs {builtin}")
    module = plugin_manager.get_plugin_module("command", name).__name__
    if module == f"{PLUGIN_PACKAGE}.{name}":
        return Route(label, RouteState.GUARDED, detail)
    return Route(label, RouteState.NOT_GUARDED, f"rez runs {module}")


def _shell_routes(rez_tested: bool) -> list[Route]:
    routes = []
    failed = dict(plugin_manager.get_failed_plugins("shell"))
    for name in sorted(plugin_manager.get_plugins("shell")):
        plugin_class = plugin_manager.get_plugin_class("shell", name)
        label = f"{name} shell plugin"
        if getattr(plugin_class, PLAIN_CLASS_ATTRIBUTE, None) is None:
            routes.append(Route(label, RouteState.NOT_GUARDED, f"rez's {plugin_class.__module__}"))
        elif rez_tested:
            routes.append(Route(label, RouteState.GUARDED,
                                "suite tools, rez-build, rez-test, execute_shell; in process, isolation: none"))
        else:
            routes.append(Route(label, RouteState.DENIED, "untested rez version: every launch is denied"))
    for name in SHELL_PLUGINS:
        if name not in plugin_manager.get_plugins("shell"):
            reason = failed.get(name, "not registered")
            routes.append(Route(f"{name} shell plugin", RouteState.NOT_GUARDED, f"failed to load: {reason}"))
    return routes


def _rez_env_on_path() -> tuple[str | None, bool]:
    found = shutil.which("rez-env")
    if found is None:
        return None, False
    try:
        with open(found, "rb") as script:
            first_line = script.readline().decode("utf-8", "replace")
    except OSError:
        return found, False
    interpreter = first_line[2:].strip().split(" ")[0] if first_line.startswith("#!") else ""
    prefix = os.path.realpath(sys.prefix)
    in_this = bool(interpreter) and os.path.realpath(os.path.dirname(os.path.dirname(interpreter))) == prefix
    return found, in_this


def interception_status() -> InterceptionStatus:
    """Read which routes pass rez-guard, as a rez command started from this environment would load them."""
    version = installed_rez_version()
    tested = is_tested(version)
    hooks = installed_hooks()
    rez_env, in_this = _rez_env_on_path()
    env_detail = "rez-guard's isolated pipeline: package code runs in a forked child"
    if not tested:
        env_detail = "untested rez version: every launch is denied"
    env_route = _command_route("env", ENV_ROUTE, env_detail)
    if env_route.state is RouteState.GUARDED and not tested:
        env_route = Route(ENV_ROUTE, RouteState.DENIED, env_detail)
    routes = [
        env_route,
        _command_route("guard", GUARD_ROUTE, "the same as rez-guard"),
        *_shell_routes(tested),
        *_UNHOOKABLE_ROUTES,
    ]
    return InterceptionStatus(
        rez_version=version,
        rez_location=str(Path(rez.__file__).parent),
        rez_tested=tested,
        hooks_version=None if hooks is None else hooks.version,
        hooks_location=None if hooks is None else hooks.location,
        rez_env_on_path=rez_env,
        rez_env_in_this_environment=in_this,
        routes=tuple(routes),
    )


def probe_status_elsewhere() -> dict[str, Any] | None:
    """Return `rez-guard status --json` run from `/` without PYTHONPATH, as a rez started elsewhere loads it.

    None when rez-guard cannot be imported there: then rez cannot load the hooks either.
    """
    argv = [sys.executable, "-m", "guard", "status", "--json"]
    result = subprocess.run(argv, cwd="/", env=neutral_environ(), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, check=False)
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
