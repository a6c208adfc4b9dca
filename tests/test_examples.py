"""Resolve the example packages with rez's Python API and check the environment they build.

`get_environ` and `get_actions` use rez's Python interpreter in passive mode, which records
`source`, `command` and `alias` without running them. So these tests check values and recorded
actions, not a started shell.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from rez.packages import iter_packages
from rez.resolved_context import ResolvedContext
from rez.rex import Alias, Command, Info, Setenv, Source

from tests.conftest import EXAMPLE_PACKAGES

EXAMPLE_NAMES = ("studio_python_lib", "studio_app", "studio_plugin", "studio_config", "hostile")


@pytest.fixture
def parent_environ(isolated_home: Path) -> dict[str, str]:
    """A small explicit parent environment, so the host's variables cannot leak into results."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(isolated_home), "LANG": "C.UTF-8"}


def resolve(*request: str) -> ResolvedContext:
    """Resolve `request` against the example repository only."""
    return ResolvedContext(list(request), package_paths=[str(EXAMPLE_PACKAGES)])


def root_of(context: ResolvedContext, name: str) -> str:
    """Return the root folder of the resolved package `name`."""
    variant = context.get_resolved_package(name)
    assert variant is not None, f"{name} is not in the resolve"
    return variant.root


def resolved_versions(context: ResolvedContext) -> dict[str, str]:
    """Map each resolved package name to its version string."""
    return {variant.name: str(variant.version) for variant in context.resolved_packages}


def actions_of(context: ResolvedContext, parent_environ: Mapping[str, str], kind: type) -> list:
    """Return the recorded rex actions of one type, in the order the shell script runs them."""
    actions = context.get_actions(parent_environ=parent_environ)
    return [action for action in actions if isinstance(action, kind)]


def setenv_keys(context: ResolvedContext, parent_environ: Mapping[str, str]) -> list[str]:
    """Return the variable names of the recorded setenv actions, in order."""
    return [action.args[0] for action in actions_of(context, parent_environ, Setenv)]


def test_python_lib_resolves_latest(parent_environ):
    context = resolve("studio_python_lib")

    assert context.success
    assert resolved_versions(context) == {"studio_python_lib": "1.1.0"}
    environ = context.get_environ(parent_environ=parent_environ)
    assert environ["PYTHONPATH"] == os.path.join(root_of(context, "studio_python_lib"), "python")


def test_python_lib_older_version_on_request(parent_environ):
    context = resolve("studio_python_lib-1.0")

    assert context.success
    assert resolved_versions(context) == {"studio_python_lib": "1.0.0"}
    environ = context.get_environ(parent_environ=parent_environ)
    assert environ["PYTHONPATH"].endswith(os.path.join("studio_python_lib", "1.0.0", "python"))


def test_python_lib_module_imports(parent_environ):
    context = resolve("studio_python_lib")
    environ = {**parent_environ, **context.get_environ(parent_environ=parent_environ)}
    # Keep the example repository free of __pycache__ folders.
    environ["PYTHONDONTWRITEBYTECODE"] = "1"

    completed = subprocess.run(
        [sys.executable, "-c", "import studio_python_lib; print(studio_python_lib.greeting('ann'))"],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "hello ann from studio_python_lib 1.1.0"


def test_studio_app_environment(parent_environ):
    context = resolve("studio_app")

    assert context.success
    assert resolved_versions(context) == {"studio_python_lib": "1.1.0", "studio_app": "2.3.0"}
    app_root = root_of(context, "studio_app")
    environ = context.get_environ(parent_environ=parent_environ)
    assert environ["STUDIO_APP_HOME"] == app_root
    assert environ["PATH"].split(os.pathsep)[0] == os.path.join(app_root, "bin")
    assert environ["PYTHONPATH"] == os.path.join(root_of(context, "studio_python_lib"), "python")


def test_studio_app_defines_alias(parent_environ):
    context = resolve("studio_app")

    aliases = actions_of(context, parent_environ, Alias)

    assert [action.args for action in aliases] == [("sapp", "studio_app")]


def test_studio_app_script_runs(parent_environ):
    context = resolve("studio_app")
    environ = {**parent_environ, **context.get_environ(parent_environ=parent_environ)}
    script = Path(root_of(context, "studio_app")) / "bin" / "studio_app"

    assert os.access(script, os.X_OK)
    completed = subprocess.run([str(script)], env=environ, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"studio_app 2.3.0 running from {environ['STUDIO_APP_HOME']}"


def test_studio_plugin_pulls_dependency_chain(parent_environ):
    context = resolve("studio_plugin")

    assert context.success
    assert resolved_versions(context) == {
        "studio_python_lib": "1.1.0",
        "studio_app": "2.3.0",
        "studio_plugin": "0.4.0",
    }
    environ = context.get_environ(parent_environ=parent_environ)
    assert environ["STUDIO_APP_PLUGIN_PATH"] == os.path.join(root_of(context, "studio_plugin"), "plugins")
    assert environ["STUDIO_APP_HOME"] == root_of(context, "studio_app")


def test_studio_config_environment(parent_environ):
    context = resolve("studio_config")

    assert context.success
    config_root = root_of(context, "studio_config")
    environ = context.get_environ(parent_environ=parent_environ)
    assert environ["STUDIO_SITE"] == "example_studio"
    assert environ["STUDIO_CONFIG_ROOT"] == config_root
    assert environ["STUDIO_CONFIG_READY"] == "1"
    # setup.sh sets only a shell variable, and rez's Python interpreter never sources it.
    assert "STUDIO_CONFIG_SETUP_SOURCED" not in environ


def test_studio_config_phase_order(parent_environ):
    context = resolve("studio_config")

    keys = setenv_keys(context, parent_environ)

    # pre_commands, commands and post_commands run in that order for the whole resolve.
    assert keys.index("STUDIO_SITE") < keys.index("STUDIO_CONFIG_ROOT")
    assert keys.index("STUDIO_CONFIG_ROOT") < keys.index("STUDIO_CONFIG_READY")


def test_studio_config_startup_commands(parent_environ):
    context = resolve("studio_config")
    setup_script = Path(root_of(context, "studio_config")) / "setup.sh"

    sources = actions_of(context, parent_environ, Source)
    commands = actions_of(context, parent_environ, Command)
    infos = actions_of(context, parent_environ, Info)

    assert setup_script.is_file()
    assert [action.args for action in sources] == [(str(setup_script),)]
    assert [action.args for action in commands] == [("echo studio_config: startup command ran",)]
    assert [str(action.args[0]) for action in infos] == ["studio_config: site example_studio configured"]


def test_plugin_and_config_resolve_together(parent_environ):
    context = resolve("studio_plugin", "studio_config")

    assert context.success
    assert set(resolved_versions(context)) == {"studio_python_lib", "studio_app", "studio_plugin", "studio_config"}
    environ = context.get_environ(parent_environ=parent_environ)
    for name in ("STUDIO_APP_HOME", "STUDIO_APP_PLUGIN_PATH", "STUDIO_SITE", "STUDIO_CONFIG_READY", "PYTHONPATH"):
        assert name in environ, f"{name} missing from the combined environment"


def test_hostile_environment(parent_environ):
    context = resolve("hostile")

    assert context.success
    environ = context.get_environ(parent_environ=parent_environ)
    assert environ["LD_PRELOAD"] == os.path.join(root_of(context, "hostile"), "lib", "libhook.so")
    assert environ["PATH"].split(os.pathsep)[0] == "/tmp"
    # rez's Python interpreter expands $NAME and ${NAME} but runs no command, so the substitution stays as text.
    assert environ["HOSTILE_USER_ID"] == "$(id -u)"


def test_hostile_payload_is_placeholder():
    library = EXAMPLE_PACKAGES / "hostile" / "1.0.0" / "lib" / "libhook.so"

    assert library.is_file()
    assert not library.read_bytes().startswith(b"\x7fELF")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_package_declares_metadata(name):
    packages = list(iter_packages(name, paths=[str(EXAMPLE_PACKAGES)]))

    assert packages, f"no versions of {name} found"
    for package in packages:
        assert package.description, f"{package.qualified_name} has no description"
        assert package.authors, f"{package.qualified_name} has no authors"
        assert not package.variants, f"{package.qualified_name} should have no variants"


def test_python_lib_has_two_versions():
    packages = iter_packages("studio_python_lib", paths=[str(EXAMPLE_PACKAGES)])

    versions = sorted(str(package.version) for package in packages)

    assert versions == ["1.0.0", "1.1.0"]
