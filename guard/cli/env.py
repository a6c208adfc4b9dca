"""`rez-guard env`: every rez-env 3.4 option with rez's meaning, plus the guard's own."""

from __future__ import annotations

import os
import sys

import click
from rez.config import config
from rez.system import system

from guard.audit import AuditOptions, AuditSession, SinkSpec, open_audit_log
from guard.errors import UsageError
from guard.hostfacts import find_system_shell
from guard.cli.ui import TerminalUI
from guard.paths import GuardPaths
from guard.policy import load_policy
from guard.request import SUPPORTED_SHELLS, LaunchRequest
from guard.session import Collaborators, run_session
from guard.trust import TrustStore

# rez-env reads these options with argparse's nargs='+': every word up to the next option is a rule.
_GREEDY_OPTIONS = frozenset({"--exclude", "--include"})
# Words after these run as the command: `--` as typed, `--N0` as rez's wrapper passes it.
_COMMAND_SEPARATORS = frozenset({"--", "--N0"})


def _spread_greedy_options(args: list[str]) -> list[str]:
    spread: list[str] = []
    greedy = None
    for word in args:
        if word in _GREEDY_OPTIONS:
            greedy = word
            continue
        if greedy and not word.startswith("-"):
            spread += [greedy, word]
            continue
        greedy = None
        spread.append(word)
    return spread


class RezEnvCommand(click.Command):
    """A click command that reads rez-env's command line: greedy rule options and `-- ARGV`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        argv = None
        for index, word in enumerate(args):
            if word in _COMMAND_SEPARATORS:
                args, argv = args[:index], args[index + 1:]
                break
        ctx.meta["guard.argv"] = argv
        return super().parse_args(ctx, _spread_greedy_options(list(args)))


def default_shell() -> str:
    """Return the shell rez-env would pick: rez's configured default, else the system's."""
    if config.default_shell:
        return config.default_shell
    find_system_shell()
    return system.shell


@click.command(cls=RezEnvCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--shell", help="Target shell type: bash, sh, zsh, tcsh or csh (default: rez's default shell).")
@click.option("--rcfile", help="Source this file instead of the shell's standard startup scripts, if possible.")
@click.option("--norc", is_flag=True, help="Skip loading of startup scripts.")
@click.option("-c", "--command", help="Run this command in the environment and exit instead of starting a shell.")
@click.option("-s", "--stdin", is_flag=True, help="Read commands from standard input.")
@click.option("--ni", "--no-implicit", "no_implicit", is_flag=True, help="Don't add implicit packages to the request.")
@click.option("--nl", "--no-local", "no_local", is_flag=True, help="Don't load local packages.")
@click.option("-b", "--build", is_flag=True, help="Create a build environment.")
@click.option("--paths", help=f"Package search path (separator {os.pathsep!r}).")
@click.option("-t", "--time", help="Ignore packages released after this time: epoch seconds, or -10s, -5m, -0.5h, -10d.")
@click.option("--max-fails", type=int, default=-1, metavar="N", help="Abort after N failed configuration attempts.")
@click.option("--time-limit", type=int, default=-1, metavar="SECS", help="Abort if the resolve takes more than SECS.")
@click.option("-o", "--output", metavar="FILE", help="Write the context to an rxt file ('-' for stdout) instead of launching.")
@click.option("-i", "--input", metavar="FILE", help="Use a saved context (rxt file) instead of resolving.")
@click.option("--exclude", multiple=True, metavar="RULE", help="Add a package exclusion filter, for example '*.beta'.")
@click.option("--include", multiple=True, metavar="RULE", help="Add a package inclusion filter, for example 'mypkg'.")
@click.option("--no-filters", is_flag=True, help="Turn off configured package filters.")
@click.option("-p", "--patch", is_flag=True, help="Patch the current context to create a new one.")
@click.option("--strict", is_flag=True, help="Strict patching; ignored without --patch.")
@click.option("--patch-rank", type=int, default=0, metavar="N", help="Patch rank; ignored without --patch.")
@click.option("--no-cache", is_flag=True, help="Do not fetch cached resolves.")
@click.option("-q", "--quiet", is_flag=True, help="Hide the welcome message.")
@click.option("--fail-graph", is_flag=True, help="On a resolve conflict, show the resolve graph as an image.")
@click.option("--new-session", is_flag=True, help="Start the shell in a new process group.")
@click.option("--detached", is_flag=True, help="Open a separate terminal.")
@click.option("--no-passive", is_flag=True, help="Only print actions that affect the solve (with -v).")
@click.option("--stats", is_flag=True, help="Print advanced solver stats.")
@click.option("--no-pkg-cache", is_flag=True, help="Disable package caching.")
@click.option("--pkg-cache-mode", type=click.Choice(["sync", "async"]), help="Override rez's package_cache_async.")
@click.option("--pre-command", hidden=True)
@click.option("-v", "--verbose", count=True, help="Resolve verbosity (repeat for more); also turns on debug logs.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option("--profile", metavar="FILE", help="Write a cProfile of this run to FILE.")
@click.option("--yes", is_flag=True, help="Approve this launch without asking (policy may forbid it).")
@click.option("--preview", is_flag=True, help="Show the plan and exit 0 without launching.")
@click.option("--json", "as_json", is_flag=True, help="With --preview: write the plan as JSON on stdout.")
@click.option("--show-rez", is_flag=True, help="List rez's own REZ_* variables in the preview instead of a count.")
@click.option("--monitor", type=click.Choice(["auto", "poll", "netlink", "ptrace", "off"]),
              help="Process monitor backend (default: from policy, else auto).")
@click.argument("packages", nargs=-1, metavar="[PKG]...")
@click.pass_context
def env(ctx: click.Context, packages: tuple[str, ...], **options: object) -> None:
    """Resolve PKG..., show what the packages inject, ask, and launch the approved shell.

    Run a command instead of a shell with -c CMD or `-- ARGV...`.
    """
    request = build_request(packages, ctx.meta.get("guard.argv"), options, tuple(sys.argv))
    parts = load_collaborators(request)
    profile_file = options["profile"]
    if not profile_file:
        ctx.exit(run_session(request, parts))
    # Imported here, still before the recording child is forked, because few runs are profiled.
    import cProfile

    profiler = cProfile.Profile()
    try:
        exit_code = profiler.runcall(run_session, request, parts)
    finally:
        profiler.dump_stats(profile_file)
    ctx.exit(exit_code)


def build_request(
    packages: tuple[str, ...],
    argv: list[str] | None,
    options: dict,
    runargv: tuple[str, ...],
) -> LaunchRequest:
    """Turn the parsed command line into a LaunchRequest, checking what click cannot."""
    if argv is not None and options["command"]:
        raise UsageError("-c/--command cannot be combined with arguments after '--'; use one of them")
    if options["input"] and packages and not options["patch"]:
        raise UsageError("cannot use --input together with packages unless --patch is given; drop one of them")
    if options["as_json"] and not options["preview"]:
        raise UsageError("--json needs --preview; add --preview to get the plan as JSON")
    shell = options["shell"] or default_shell()
    if shell not in SUPPORTED_SHELLS:
        raise UsageError(f"unsupported shell {shell!r}; use --shell with one of {', '.join(SUPPORTED_SHELLS)}")
    return LaunchRequest(
        packages=packages,
        shell=shell,
        rcfile=options["rcfile"],
        norc=options["norc"],
        command=options["command"],
        argv=None if argv is None else tuple(argv),
        stdin=options["stdin"],
        no_implicit=options["no_implicit"],
        no_local=options["no_local"],
        build=options["build"],
        paths=options["paths"],
        time=options["time"],
        max_fails=options["max_fails"],
        time_limit=options["time_limit"],
        output=options["output"],
        input=options["input"],
        exclude=tuple(options["exclude"]),
        include=tuple(options["include"]),
        no_filters=options["no_filters"],
        patch=options["patch"],
        strict=options["strict"],
        patch_rank=options["patch_rank"],
        no_cache=options["no_cache"],
        quiet=options["quiet"],
        fail_graph=options["fail_graph"],
        new_session=options["new_session"],
        detached=options["detached"],
        no_passive=options["no_passive"],
        stats=options["stats"],
        no_pkg_cache=options["no_pkg_cache"],
        pkg_cache_mode=options["pkg_cache_mode"],
        pre_command=options["pre_command"],
        verbose=options["verbose"],
        yes=options["yes"],
        preview=options["preview"],
        json=options["as_json"],
        monitor=options["monitor"],
        show_rez=options["show_rez"],
        runargv=runargv,
    )


def load_collaborators(request: LaunchRequest) -> Collaborators:
    """Read the guard's configuration from its own environment, before any package code runs."""
    environ = dict(os.environ)
    paths = GuardPaths.from_environ(environ)
    policy = load_policy(paths)
    trust = TrustStore(paths.trust_store)
    log = open_audit_log(AuditOptions(
        path=paths.audit_log,
        sinks=tuple(SinkSpec.parse(sink) for sink in policy.audit_sinks),
        required=policy.audit_required,
        log_values=policy.log_values,
        redact=policy.redact,
    ))
    return Collaborators(
        paths=paths,
        policy=policy,
        trust=trust,
        audit=AuditSession(log),
        ui=TerminalUI(),
        interactive=sys.stdin.isatty() and not request.stdin,
        parent_environ=environ,
    )
