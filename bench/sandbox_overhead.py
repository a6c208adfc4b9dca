"""Measure what the sandbox adds to one recording: the same resolve with every layer and with none.

Run from the repository root: `PYTHONPATH=. python bench/sandbox_overhead.py [ROUNDS]`. It
resolves and records `studio_plugin studio_config` from examples/packages for
bash, alternating the two modes, and prints the median and the spread of each.
HOME and the XDG folders point at a temporary folder for the run.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from guard.isolation import probe_sandbox, run_isolated
from guard.paths import GuardPaths
from guard.record import detect_system_paths
from guard.request import LaunchRequest
from guard.resolve import SessionFiles, resolve_and_record
from guard.sandbox import build_options
from guard.sandbox.rezwork import prepare_in_parent

ROOT = Path(__file__).resolve().parent.parent


def main(rounds: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="rez-guard-bench_"))
    try:
        measure(rounds, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def measure(rounds: int, home: Path) -> None:
    """Time the recordings and the probe with HOME and the XDG folders in `home`, and print the results."""
    os.environ["HOME"] = str(home)
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        os.environ[name] = str(home / name.lower())
    repository = ROOT / "examples" / "packages"
    request = LaunchRequest(packages=("studio_plugin", "studio_config"), paths=str(repository), shell="bash")
    files = SessionFiles(rxt_file=str(home / "context.rxt"), context_file=str(home / "context.sh"))
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    detect_system_paths("bash")
    prepare_in_parent()
    sandboxed = build_options(GuardPaths.from_environ(os.environ), [str(repository)])
    modes = {"no layer": sandboxed.with_layers(()), "every layer": sandboxed}

    timings: dict[str, list[float]] = {name: [] for name in modes}
    for _ in range(rounds):
        for name, options in modes.items():
            started = time.perf_counter()
            run_isolated(lambda: resolve_and_record(request, files, environ).to_dict(), options)
            timings[name].append((time.perf_counter() - started) * 1000)
    probes = []
    for _ in range(rounds):
        started = time.perf_counter()
        probe_sandbox(sandboxed)
        probes.append((time.perf_counter() - started) * 1000)
    timings["probe_sandbox"] = probes

    print(f"{rounds} rounds, {os.uname().release}, {os.cpu_count()} CPUs, uid {os.getuid()}")
    for name, values in timings.items():
        quartiles = statistics.quantiles(values, n=4)
        print(f"{name:>14}: median {statistics.median(values):6.1f} ms, quartiles {quartiles[0]:.1f}-{quartiles[2]:.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
