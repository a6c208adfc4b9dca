"""Compare a trusted `rez-guard env ... -- true` with `rez-env ... -- true` on the same packages.

Run it from the repository root with the project's Python, the one that has rez
installed. The checkout's own `guard` package is then the one measured, and
`rez-env` is taken from the folder of that Python:

    .venv/bin/python -m bench

For each context it approves and remembers the context once (answering the
prompt on a pseudo-terminal), then times the two commands alternately, flipping
which one goes first on every round. Each timed command is started from bash, as
one typed at a prompt is (`--parent direct` starts it from this process). It
prints the median of the per-round ratios guard/rez-env with their minimum and
maximum. It then times, inside this process, the preview and fingerprint of the
500-package context, recording 1,000 appends to one variable, and the guard's
other hot-path stages.

The package repositories are generated into a temporary folder under `.bench/`
in the checkout (ignored by git), and HOME and the XDG folders point there too,
so the real trust store and audit log are never touched.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.imports import measure_imports
from bench.inprocess import measure_inprocess
from bench.repositories import GeneratedContext, write_append_repository, write_wide_repository
from guard.paths import GuardPaths
from guard.trust import TrustStore

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK_ROOT = REPO_ROOT / ".bench"

EXAMPLE_CONTEXT = GeneratedContext(REPO_ROOT / "examples" / "packages", ("studio_plugin", "studio_config"), 4, 9)
CONTEXT_LABELS = ("example", "wide-100", "wide-500", "appends-3000")
# The prompt ends with this, whether one key or the whole word is required.
_PROMPT_PATTERN = r"(?:\[r\]emember|remember)[^\n]*: "


@dataclass(frozen=True, slots=True)
class LaunchCase:
    """One context to launch both ways, and how many timed rounds it gets."""

    label: str
    context: GeneratedContext
    rounds: int
    warmup: int


@dataclass(frozen=True, slots=True)
class Timing:
    """One command's wall time and CPU time (user + system, its child processes included), in seconds."""

    wall: float
    cpu: float


@dataclass(slots=True)
class LaunchResult:
    """The times of both commands, round by round."""

    label: str
    guard: list[Timing] = field(default_factory=list)
    rez: list[Timing] = field(default_factory=list)

    def ratios(self, kind: str) -> list[float]:
        """Return guard/rez-env per round, of the wall or the cpu times."""
        return [getattr(guard, kind) / getattr(rez, kind) for guard, rez in zip(self.guard, self.rez)]

    def to_dict(self) -> dict:
        data: dict = {"label": self.label, "rounds": len(self.guard)}
        for kind in ("wall", "cpu"):
            ratios = self.ratios(kind)
            data[kind] = {
                "median_ratio": statistics.median(ratios),
                "min_ratio": min(ratios),
                "max_ratio": max(ratios),
                "median_guard_s": statistics.median(getattr(timing, kind) for timing in self.guard),
                "median_rez_env_s": statistics.median(getattr(timing, kind) for timing in self.rez),
                "guard_s": [getattr(timing, kind) for timing in self.guard],
                "rez_env_s": [getattr(timing, kind) for timing in self.rez],
            }
        return data


class Bench:
    """The temporary folder, the environment both commands run in, and the two command lines."""

    def __init__(self, root: Path, parent: str = "shell") -> None:
        self.root = root
        self.parent = parent
        home = root / "home"
        home.mkdir()
        self.environ = dict(os.environ)
        self.environ.update({
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_STATE_HOME": str(root / "state"),
            "XDG_CACHE_HOME": str(root / "cache"),
            # The guard under test is this checkout, whatever is installed.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        })
        # Installed packages, rez included, have their bytecode compiled, so the checkout under test gets it too.
        self.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        for package in ("guard", "shells"):
            compileall.compile_dir(REPO_ROOT / package, quiet=1)
        self.rez_env = Path(sys.executable).parent / "rez-env"
        if not self.rez_env.exists():
            raise SystemExit(f"rez-env not found next to {sys.executable}; run the bench with the project's Python")
        # The same kind of entry script pip writes for rez-env and for an installed rez-guard.
        self.rez_guard = root / "rez-guard"
        self.rez_guard.write_text(
            f"#!{sys.executable}\nimport sys\nfrom guard.cli.main import main\nsys.exit(main())\n", encoding="utf-8")
        self.rez_guard.chmod(0o755)

    def guard_argv(self, context: GeneratedContext) -> list[str]:
        return [str(self.rez_guard), "env", "--paths", str(context.repository), *context.request, "--", "true"]

    def rez_argv(self, context: GeneratedContext) -> list[str]:
        return [str(self.rez_env), "--paths", str(context.repository), *context.request, "--", "true"]

    def run(self, argv: list[str]) -> Timing:
        """Run a command without a terminal and return its times; fail on a non-zero exit."""
        if self.parent == "shell":
            # A command typed at a prompt is a child of the shell, and rez-env and the guard look at
            # their parent for the default shell. bash -c would exec a lone command, so a second one follows.
            argv = ["bash", "-c", '"$@"; exit $?', "bash", *argv]
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.environ, cwd=REPO_ROOT, check=False)
        elapsed = time.perf_counter() - started
        usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(argv[:6])} ... exited with {result.returncode}:\n{result.stderr.decode()}")
        cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
        return Timing(elapsed, cpu)

    def approve_and_remember(self, context: GeneratedContext) -> None:
        """Answer the guard's prompt with `remember` on a pseudo-terminal, then check the launch is trusted."""
        import pexpect

        argv = self.guard_argv(context)
        child = pexpect.spawn(argv[0], argv[1:], env=self.environ, cwd=str(REPO_ROOT), timeout=300,
                              encoding="utf-8", maxread=1 << 20)
        try:
            child.expect(_PROMPT_PATTERN)
            child.sendline("remember")
            child.expect(pexpect.EOF)
        finally:
            child.close()
        if child.exitstatus != 0:
            raise SystemExit(f"approving {' '.join(context.request)} failed with exit status {child.exitstatus}")
        self.run(argv)


def fill_trust_store(bench: Bench, count: int) -> None:
    """Remember `count` made-up contexts in the bench's trust store, through the store's own API."""
    store = TrustStore(GuardPaths.from_environ(bench.environ).trust_store)
    for index in range(count):
        packages = [f"studio_pkg{number}" for number in range(5)]
        summary = {"request": packages, "resolve": [f"{name}-1.{index}.0" for name in packages], "shell": "bash"}
        store.remember(hashlib.sha256(f"plan {index}".encode()).hexdigest(),
                       hashlib.sha256(f"context {index}".encode()).hexdigest(), summary)
    print(f"trust store filled with {count} remembered contexts", file=sys.stderr, flush=True)


def compare_launch(bench: Bench, case: LaunchCase, log: Callable[[str], None]) -> LaunchResult:
    """Time both commands alternately on one context; the first `warmup` rounds are not kept."""
    bench.approve_and_remember(case.context)
    result = LaunchResult(case.label)
    guard_argv = bench.guard_argv(case.context)
    rez_argv = bench.rez_argv(case.context)
    for round_index in range(case.warmup + case.rounds):
        if round_index % 2 == 0:
            guard, rez = bench.run(guard_argv), bench.run(rez_argv)
        else:
            rez, guard = bench.run(rez_argv), bench.run(guard_argv)
        if round_index >= case.warmup:
            result.guard.append(guard)
            result.rez.append(rez)
            log(f"  {case.label} round {round_index - case.warmup + 1}: wall guard {guard.wall:.3f} s, "
                f"rez-env {rez.wall:.3f} s, ratio {guard.wall / rez.wall:.3f}; "
                f"cpu ratio {guard.cpu / rez.cpu:.3f}")
    return result


def _print_table(results: Sequence[LaunchResult], kind: str) -> None:
    print(f"{'context':<14} {'rounds':>6} {'median':>7} {'min':>6} {'max':>6} {'guard s':>8} {'rez-env s':>9}")
    for result in results:
        data = result.to_dict()
        times = data[kind]
        print(f"{data['label']:<14} {data['rounds']:>6} {times['median_ratio']:>7.3f} {times['min_ratio']:>6.3f} "
              f"{times['max_ratio']:>6.3f} {times['median_guard_s']:>8.3f} {times['median_rez_env_s']:>9.3f}")


def machine_description(bench: Bench) -> dict[str, object]:
    """Describe the machine, the versions and the load the measurements were taken under."""
    import rez

    cpu_model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT,
                            check=False).stdout.strip()
    return {
        "platform": platform.platform(),
        "cpu": cpu_model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "rez": rez.__version__,
        "rez_guard_commit": commit or "unknown",
        "shell": os.path.basename(bench.environ.get("SHELL", "")),
        "parent": bench.parent,
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Timed rounds per context (default 15).")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed rounds before each context (default 2).")
    parser.add_argument("--append-rounds", type=int, default=3,
                        help="Timed rounds of the 3,000-append context, where rez-env takes many seconds (default 3).")
    parser.add_argument("--contexts", default=",".join(CONTEXT_LABELS),
                        help=f"Comma-separated contexts to launch (default {','.join(CONTEXT_LABELS)}).")
    parser.add_argument("--only", choices=("launch", "inprocess", "imports"), help="Run only one part of the benchmark.")
    parser.add_argument("--parent", choices=("shell", "direct"), default="shell",
                        help="Start each timed command from bash, as typed at a prompt (default), or directly "
                             "from the bench's Python.")
    parser.add_argument("--trust-entries", type=int, default=0, metavar="N",
                        help="Fill the trust store with N other remembered contexts first, as an artist's store "
                             "grows over months (default 0).")
    parser.add_argument("--json", metavar="FILE", help="Also write every measurement to FILE as JSON.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder and print its path.")
    return parser.parse_args(argv)


def _run_launches(bench: Bench, cases: Sequence[LaunchCase]) -> list[dict]:
    results = []
    for case in cases:
        print(f"launching {case.label} ({case.context.packages} packages, "
              f"{case.context.package_actions} package actions)", file=sys.stderr, flush=True)
        results.append(compare_launch(bench, case, lambda line: print(line, file=sys.stderr, flush=True)))
    print("launch: wall time ratio rez-guard env / rez-env, trusted context, default monitor")
    _print_table(results, "wall")
    print("launch: CPU time ratio (user + system of each command and its child processes)")
    _print_table(results, "cpu")
    return [result.to_dict() for result in results]


def _print_seconds(title: str, timings: dict[str, float], limit: int | None = None) -> None:
    print(title)
    for name, seconds in list(timings.items())[:limit]:
        print(f"  {name:<52} {seconds * 1000:9.2f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its results."""
    args = _parse_args(argv)
    # Under the checkout rather than the system temp folder: package paths under /tmp
    # draw findings (a folder anyone can write), which a plain studio context has not.
    WORK_ROOT.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="run-", dir=WORK_ROOT))
    report: dict = {}
    try:
        bench = Bench(root, args.parent)
        report["machine"] = machine_description(bench)
        print("machine: " + ", ".join(f"{key} {value}" for key, value in report["machine"].items()))
        wide_100 = write_wide_repository(root / "wide100", 100)
        wide_500 = write_wide_repository(root / "wide500", 500)
        appends_3000 = write_append_repository(root / "appends3000", 3000)

        report["machine"]["trust_entries"] = args.trust_entries
        if args.trust_entries:
            fill_trust_store(bench, args.trust_entries)
        if args.only in (None, "launch"):
            cases = [
                LaunchCase("example", EXAMPLE_CONTEXT, args.rounds, args.warmup),
                LaunchCase("wide-100", wide_100, args.rounds, args.warmup),
                LaunchCase("wide-500", wide_500, args.rounds, args.warmup),
                # NOTE: the guard joins the 3,000 appends into one line, so the shell's time no longer
                # bounds the speed-up. The plan analysis and the PATH rules take time linear in the appends.
                LaunchCase("appends-3000", appends_3000, args.append_rounds, 0),
            ]
            wanted = args.contexts.split(",")
            unknown = sorted(set(wanted) - set(CONTEXT_LABELS))
            if unknown:
                raise SystemExit(f"unknown context {unknown[0]!r}; use some of {', '.join(CONTEXT_LABELS)}")
            report["launch"] = _run_launches(bench, [case for case in cases if case.label in wanted])

        if args.only in (None, "inprocess"):
            report["inprocess"] = measure_inprocess(wide_500, appends_3000, root, bench.environ)
            _print_seconds("in-process, median of several calls:", report["inprocess"])

        if args.only in (None, "imports"):
            report["imports"] = measure_imports(REPO_ROOT, bench.environ)
            _print_seconds("imports before the fork, median self time under -X importtime, largest 25:",
                           report["imports"], limit=25)
        report["machine"]["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        print(f"load average at the end: {report['machine']['load_average_1m_at_end']}")
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)

    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
