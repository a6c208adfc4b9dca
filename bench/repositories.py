"""Write the generated package repositories the benchmarks and the executor tests resolve.

Nothing here is committed: the benchmark writes the repositories into a temporary
folder on every run, so their size is set by the arguments, not by files in git.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Each package of a wide repository runs this many actions in commands():
# six path-list prepends and appends, three setenvs and one alias.
ACTIONS_PER_PACKAGE = 10

_WIDE_COMMANDS = '''\
def commands():
    env.PATH.prepend("{{root}}/bin")
    env.PYTHONPATH.prepend("{{root}}/python")
    env.MANPATH.append("{{root}}/share/man")
    env.CMAKE_PREFIX_PATH.append("{{root}}")
    env.PKG_CONFIG_PATH.append("{{root}}/lib/pkgconfig")
    env.STUDIO_PLUGIN_PATH.append("{{root}}/plugins")
    env.{upper}_ROOT = "{{root}}"
    env.{upper}_VERSION = "{{version}}"
    env.{upper}_CONFIG = "{{root}}/config/site.yaml"
    alias("{name}", "{{root}}/bin/{name}")
'''

_APPEND_COMMANDS = '''\
def commands():
    for index in range({count}):
        env.{variable}.append("{{root}}/tools/t%05d/bin" % index)
'''


@dataclass(frozen=True, slots=True)
class GeneratedContext:
    """A generated repository and the request that resolves its whole context."""

    repository: Path
    request: tuple[str, ...]
    packages: int
    package_actions: int


def _write(repository: Path, name: str, version: str, body: str, requires: list[str] | None = None) -> None:
    folder = repository / name / version
    folder.mkdir(parents=True, exist_ok=True)
    header = f"name = {name!r}\nversion = {version!r}\n"
    if requires:
        header += f"requires = {requires!r}\n"
    (folder / "package.py").write_text(header + "\n" + body, encoding="utf-8")


def write_wide_repository(repository: Path, packages: int) -> GeneratedContext:
    """Write `packages` packages of ten actions each and a bundle package that requires them all."""
    names = [f"bench_pkg_{index:04d}" for index in range(packages)]
    for name in names:
        _write(repository, name, "1.0.0", _WIDE_COMMANDS.format(name=name, upper=name.upper()))
    bundle = f"bench_bundle_{packages}"
    _write(repository, bundle, "1.0.0", "", requires=names)
    return GeneratedContext(repository, (bundle,), packages + 1, packages * ACTIONS_PER_PACKAGE)


def write_append_repository(repository: Path, appends: int, variable: str = "PATH") -> GeneratedContext:
    """Write one package whose commands() appends `appends` entries to `variable`."""
    name = f"bench_appends_{appends}"
    _write(repository, name, "1.0.0", _APPEND_COMMANDS.format(count=appends, variable=variable))
    return GeneratedContext(repository, (name,), 1, appends)
