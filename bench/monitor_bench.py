"""Benchmark the process-tree monitor backends against netlink ground truth.

Run as root from the repository root (netlink needs CAP_NET_ADMIN, and it is
the ground truth):

    .venv/bin/python -m bench.monitor_bench --output bench-monitor.json

Every run happens in a fresh child process that acts like the guard: it
becomes a child subreaper, prepares a backend, starts `bash -c WORKLOAD`,
waits for it, stops the monitor and reports its own CPU time and what the
monitor emitted. A separate listener process subscribes to the proc connector
and records every fork on the system, so each run's real process tree is known
independently of the backend under test. The script prints Markdown tables for
docs/benchmarks.md and can write the raw numbers as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import rez

from guard.monitor import (
    DEFAULT_POLL_INTERVAL,
    Backend,
    ExitPolicy,
    MonitorOptions,
    MonitorRecord,
    ProcessEvent,
    become_subreaper,
    prepare,
)
from guard.monitor import netlink

REPOSITORY = Path(__file__).resolve().parents[1]

NONE = "none"  # run the workload without any monitor


@dataclass(frozen=True)
class Workload:
    """A shell script and the argv of the processes it is about."""

    name: str
    script: str
    expected: dict[tuple[str, ...], int]  # argv -> how many processes run it


WORKLOADS = [
    Workload("500 x /bin/true", "for i in $(seq 500); do /bin/true; done", {("/bin/true",): 500}),
    Workload("200 x 10 ms", "for i in $(seq 200); do sleep 0.01; done", {("sleep", "0.01"): 200}),
    Workload(
        "100 x 100 ms",
        "for wave in $(seq 10); do for i in $(seq 10); do sleep 0.1 & done; wait; done",
        {("sleep", "0.1"): 100},
    ),
    Workload(
        "20 double-forked daemons",
        "for i in $(seq 20); do ( setsid sleep 0.3 & ); done; sleep 0.6",
        {("sleep", "0.3"): 20},
    ),
    Workload(
        "20 x 4-stage pipeline",
        "for i in $(seq 20); do seq 2000 | sort -rn | grep 1 | wc -l > /dev/null; done",
        {("seq", "2000"): 20, ("sort", "-rn"): 20, ("grep", "1"): 20, ("wc", "-l"): 20},
    ),
]


# ---------------------------------------------------------------------------
# The guard-like runner (runs in its own process for clean CPU and memory).


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_seconds(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one workload under one backend as the guard would and measure it."""
    if spec.get("import_rez"):
        # The guard imports rez before it forks the recording child; weigh the same.
        importlib.import_module("rez.resolved_context")

    backend = spec["backend"]
    become_subreaper()
    prepared = None
    if backend != NONE:
        prepared = prepare(
            MonitorOptions(backend=Backend(backend), interval=spec["interval"], exit_policy=ExitPolicy.TERMINATE)
        )

    keep_records = not spec.get("count_only")
    events: list[tuple[int, list[str] | None]] = []
    counts = Counter[str]()
    samples: list[tuple[int, int]] = []
    sample_every = spec.get("sample_every") or 0
    audit = tempfile.TemporaryFile("w+")

    def emit(record: MonitorRecord) -> None:
        # Write the record the way an audit log would, so emit costs what it costs there.
        audit.write(json.dumps(record.to_dict()) + "\n")
        counts[record.kind.value] += 1
        if keep_records and isinstance(record, ProcessEvent) and record.kind != "process.exit":
            events.append((record.pid, None if record.argv is None else list(record.argv)))
        total = sum(counts.values())
        if sample_every and total % sample_every == 0:
            samples.append((total, _rss_kib()))

    argv = ["bash", "-c", spec["script"]]
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    if prepared is None:
        shell: Any = subprocess.Popen(argv)
        monitor = None
    else:
        shell = prepared.spawn(argv)
        monitor = prepared.start(shell.pid, emit)
    rss_start = _rss_kib()
    idle_cpu = None
    if spec.get("idle_window"):
        # Measure only a window in the middle of the run, without the cost of
        # starting and stopping, which a long idle session spreads thin.
        time.sleep(1.0)
        window_start, usage_start = time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(spec["idle_window"])
        window, usage_end = time.monotonic() - window_start, resource.getrusage(resource.RUSAGE_SELF)
        idle_cpu = _cpu_seconds(usage_start, usage_end) / window
    returncode = shell.wait()
    wall = time.monotonic() - started
    summary = None if monitor is None else monitor.stop()
    usage_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = _cpu_seconds(usage_before, usage_after)
    return {
        "idle_cpu": idle_cpu,
        "root": shell.pid,
        "returncode": returncode,
        "wall": wall,
        "cpu": cpu,
        "events": events,
        "counts": dict(counts),
        "rss_start_kib": rss_start,
        "rss_end_kib": _rss_kib(),
        "rss_max_kib": usage_after.ru_maxrss,
        "samples": samples,
        "backend": None if prepared is None else prepared.backend.value,
        "summary": None if summary is None else summary.to_dict(),
    }


# ---------------------------------------------------------------------------
# The ground-truth listener (its own process, so it adds no CPU to a run).


def serve_truth() -> None:
    """Record every fork on the system and reply to `tree ROOT`, `forks` and `reset` on stdin."""
    sock = netlink.open_connector()
    parents: dict[int, int] = {}
    lost = [0]
    lock = threading.Lock()

    def listen() -> None:
        buffer = bytearray(4096)
        while True:
            try:
                size = sock.recv_into(buffer)
            except OSError as error:
                if error.errno == 105:  # ENOBUFS
                    lost[0] += 1
                    continue
                raise
            if size < netlink._DATA_OFFSET:
                continue
            what, _cpu, _stamp = netlink._EVENT_HEADER.unpack_from(buffer, netlink._EVENT_OFFSET)
            if what == netlink.PROC_EVENT_FORK:
                _ppid, parent, child, child_tgid = netlink._FORK.unpack_from(buffer, netlink._DATA_OFFSET)
                if child == child_tgid:
                    with lock:
                        parents[child] = parent

    threading.Thread(target=listen, daemon=True).start()
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if command == ["forks"]:
            with lock:
                print(len(parents), flush=True)
        elif command == ["reset"]:
            with lock:
                parents.clear()
                lost[0] = 0
            print("ok", flush=True)
        elif command and command[0] == "tree":
            root = int(command[1])
            with lock:
                children: dict[int, list[int]] = {}
                for child, parent in parents.items():
                    children.setdefault(parent, []).append(child)
                tree, pending = set(), [root]
                while pending:
                    pid = pending.pop()
                    for child in children.get(pid, ()):
                        if child not in tree:
                            tree.add(child)
                            pending.append(child)
            print(json.dumps({"tree": sorted(tree), "lost": lost[0]}), flush=True)


class Truth:
    """The orchestrator's handle on the ground-truth listener."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.monitor_bench", "--truth"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def _send(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def reset(self) -> None:
        self._send("reset")

    def forks(self) -> int:
        """Return the number of processes forked on the system since the last reset."""
        return int(self._send("forks"))

    def tree(self, root: int) -> tuple[set[int], int]:
        # Give the listener a moment to read the last exits and forks of the run.
        time.sleep(0.2)
        answer = json.loads(self._send(f"tree {root}"))
        return set(answer["tree"]), answer["lost"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.kill()
        self.process.wait()


# ---------------------------------------------------------------------------
# The orchestrator.


def launch(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `run_one(spec)` in a fresh Python process and return its result."""
    output = subprocess.run(
        [sys.executable, "-m", "bench.monitor_bench", "--run-one", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPOSITORY,
    )
    return json.loads(output.stdout)


def accuracy(result: dict[str, Any], truth: set[int], workload: Workload) -> tuple[float, float]:
    """Return (share of the tree's processes captured, share of expected argv seen right)."""
    seen = {pid for pid, _argv in result["events"]}
    captured = len(truth & seen) / len(truth) if truth else 1.0
    right_pids: dict[tuple[str, ...], set[int]] = {argv: set() for argv in workload.expected}
    for pid, argv in result["events"]:
        key = tuple(argv) if argv else ()
        if key in right_pids:
            right_pids[key].add(pid)
    right = sum(min(len(pids), workload.expected[argv]) for argv, pids in right_pids.items())
    return captured, right / sum(workload.expected.values())


def backends_to_run() -> list[str]:
    return [NONE, Backend.POLL.value, Backend.NETLINK.value, Backend.PTRACE.value]


def bench_workloads(truth: Truth, repeats: int, interval: float) -> list[dict[str, Any]]:
    rows = []
    for workload in WORKLOADS:
        for backend in backends_to_run():
            runs = []
            for _ in range(repeats):
                truth.reset()
                result = launch({"backend": backend, "script": workload.script, "interval": interval})
                tree, lost = truth.tree(result["root"])
                captured, right = accuracy(result, tree, workload) if backend != NONE else (None, None)
                runs.append({**result, "truth_size": len(tree), "truth_lost": lost, "captured": captured, "right": right})
            rows.append({"workload": workload.name, "backend": backend, "runs": runs})
            print(f"  {workload.name:28} {backend:8} done", file=sys.stderr)
    return rows


def bench_idle(truth: Truth, seconds: float, intervals: list[float]) -> list[dict[str, Any]]:
    rows = []
    # An idle shell with one child waiting, like a shell running a foreground command.
    script = f"sleep {seconds + 2}; true"
    runs = [(backend, DEFAULT_POLL_INTERVAL) for backend in backends_to_run()]
    runs += [(Backend.POLL.value, interval) for interval in intervals if interval != DEFAULT_POLL_INTERVAL]
    for backend, interval in runs:
        truth.reset()
        started = time.monotonic()
        result = launch({"backend": backend, "script": script, "interval": interval, "idle_window": seconds})
        forks_per_second = truth.forks() / (time.monotonic() - started)
        rows.append(
            {"backend": backend, "interval": interval, "idle_cpu": result["idle_cpu"], "system_forks_per_second": forks_per_second}
        )
    return rows


def bench_interval_sweep(truth: Truth, intervals: list[float]) -> list[dict[str, Any]]:
    rows = []
    for interval in intervals:
        for workload in WORKLOADS[1:4]:
            truth.reset()
            result = launch({"backend": Backend.POLL.value, "script": workload.script, "interval": interval})
            tree, _lost = truth.tree(result["root"])
            captured, right = accuracy(result, tree, workload)
            rows.append({"interval": interval, "workload": workload.name, "captured": captured, "right": right, "cpu": result["cpu"]})
    return rows


def bench_memory(processes: int) -> list[dict[str, Any]]:
    rows = []
    script = f"for i in $(seq {processes}); do /bin/true; done"
    for backend in backends_to_run():
        result = launch(
            {
                "backend": backend,
                "script": script,
                "interval": DEFAULT_POLL_INTERVAL,
                "import_rez": True,
                "count_only": True,
                "sample_every": 10_000,
            }
        )
        rows.append({"backend": backend, **{key: result[key] for key in ("rss_start_kib", "rss_end_kib", "rss_max_kib", "samples", "counts", "wall")}})
        print(f"  memory {backend:8} done", file=sys.stderr)
    return rows


def rez_env_rss() -> int | None:
    """Return the resident memory in KiB of `rez-env` waiting beside its shell."""
    rez_env = Path(sys.executable).with_name("rez-env")
    if not rez_env.exists():
        return None
    with tempfile.TemporaryDirectory() as home:
        packages = Path(home) / "packages"
        packages.mkdir()
        env = dict(os.environ, HOME=home, REZ_PACKAGES_PATH=str(packages), REZ_LOCAL_PACKAGES_PATH=str(packages))
        process = subprocess.Popen([str(rez_env), "--", "sleep", "5"], env=env, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
                if children:
                    time.sleep(0.5)
                    with open(f"/proc/{process.pid}/status", encoding="ascii") as status:
                        for line in status:
                            if line.startswith("VmRSS:"):
                                return int(line.split()[1])
                time.sleep(0.05)
            return None
        finally:
            process.wait()


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "kernel": platform.release(),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB",
        "python": platform.python_version(),
        "psutil": psutil.__version__,
        "rez": rez.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


# ---------------------------------------------------------------------------
# Reporting.


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown(results: dict[str, Any]) -> Iterator[str]:
    """Yield the Markdown tables for docs/benchmarks.md, one per part that ran."""
    tables = [
        ("workloads", _workload_table),
        ("idle", _idle_table),
        ("sweep", _sweep_table),
        ("memory", _memory_table),
    ]
    for part, table in tables:
        if part in results:
            yield from table(results[part])
            yield ""
    if "rez_env_rss_kib" in results:
        rez_rss = results["rez_env_rss_kib"]
        yield f"rez-env beside a plain shell: {'-' if rez_rss is None else f'{rez_rss / 1024:.1f} MiB'} resident."


def _workload_table(rows: list[dict[str, Any]]) -> Iterator[str]:
    yield "| workload | backend | tree captured | workload argv right | monitor CPU s | wall s | added wall s |"
    yield "|---|---|---|---|---|---|---|"
    baseline = {row["workload"]: [run["wall"] for run in row["runs"]] for row in rows if row["backend"] == NONE}
    for row in rows:
        runs = row["runs"]
        walls = [run["wall"] for run in runs]
        if row["backend"] == NONE:
            added = f"(spread {min(walls):.2f}-{max(walls):.2f})"
            captured = right = "-"
        else:
            added = f"{statistics.median(walls) - statistics.median(baseline[row['workload']]):+.2f}"
            # The worst of the repeats, not the median: capture must hold every time.
            captured = _percent(min(run["captured"] for run in runs))
            right = _percent(min(run["right"] for run in runs))
        cpu = statistics.median(run["cpu"] for run in runs)
        wall = statistics.median(walls)
        yield f"| {row['workload']} | {row['backend']} | {captured} | {right} | {cpu:.3f} | {wall:.2f} | {added} |"


def _idle_table(rows: list[dict[str, Any]]) -> Iterator[str]:
    yield "| backend | poll interval s | idle CPU, % of one core | processes forked on the system per s |"
    yield "|---|---|---|---|"
    for row in rows:
        interval = f"{row['interval']:g}" if row["backend"] == "poll" else "-"
        cpu = 100 * row["idle_cpu"]
        yield f"| {row['backend']} | {interval} | {cpu:.2f}% | {row['system_forks_per_second']:.0f} |"


def _sweep_table(rows: list[dict[str, Any]]) -> Iterator[str]:
    yield "| poll interval s | workload | tree captured | workload argv right | monitor CPU s |"
    yield "|---|---|---|---|---|"
    for row in rows:
        captured, right = _percent(row["captured"]), _percent(row["right"])
        yield f"| {row['interval']:g} | {row['workload']} | {captured} | {right} | {row['cpu']:.3f} |"


def _memory_table(rows: list[dict[str, Any]]) -> Iterator[str]:
    yield "| backend | records emitted | RSS at start MiB | RSS at end MiB | RSS per 10,000 records (MiB) |"
    yield "|---|---|---|---|---|"
    for row in rows:
        total = sum(row["counts"].values())
        samples = ", ".join(f"{rss / 1024:.1f}" for _events, rss in row["samples"]) or "-"
        start, end = row["rss_start_kib"] / 1024, row["rss_end_kib"] / 1024
        yield f"| {row['backend']} | {total} | {start:.1f} | {end:.1f} | {samples} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per backend and workload (default 3)")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="length of the idle-shell run in seconds")
    parser.add_argument("--memory-processes", type=int, default=50_000, help="processes in the memory run (2 events each)")
    parser.add_argument("--intervals", default="0.01,0.02,0.05,0.075,0.1,0.2", help="poll intervals in seconds to compare")
    parser.add_argument(
        "--parts", default="workloads,sweep,idle,memory", help="comma-separated parts to run (default: all four)"
    )
    parser.add_argument("--output", type=Path, help="also write the raw results to this JSON file")
    parser.add_argument("--run-one", help=argparse.SUPPRESS)
    parser.add_argument("--truth", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.run_one:
        print(json.dumps(run_one(json.loads(arguments.run_one))))
        return 0
    if arguments.truth:
        serve_truth()
        return 0
    if os.geteuid() != 0:
        print("run as root: the netlink backend and the ground truth need CAP_NET_ADMIN", file=sys.stderr)
        return 2

    intervals = [float(value) for value in arguments.intervals.split(",")]
    parts = set(arguments.parts.split(","))
    command = " ".join(["python -m bench.monitor_bench", *sys.argv[1:]])
    results: dict[str, Any] = {"machine": machine(), "command": command}
    truth = Truth()
    try:
        if "workloads" in parts:
            print("workloads", file=sys.stderr)
            results["workloads"] = bench_workloads(truth, arguments.repeats, DEFAULT_POLL_INTERVAL)
        if "sweep" in parts:
            print("interval sweep", file=sys.stderr)
            results["sweep"] = bench_interval_sweep(truth, intervals)
        if "idle" in parts:
            print("idle", file=sys.stderr)
            results["idle"] = bench_idle(truth, arguments.idle_seconds, intervals)
    finally:
        truth.close()
    if "memory" in parts:
        print("memory", file=sys.stderr)
        results["memory"] = bench_memory(arguments.memory_processes)
        results["rez_env_rss_kib"] = rez_env_rss()
    if arguments.output:
        arguments.output.write_text(json.dumps(results, indent=1))
    print("\n".join(f"- {key}: {value}" for key, value in results["machine"].items()))
    print(f"- command: `{results['command']}`")
    print()
    print("\n".join(markdown(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
