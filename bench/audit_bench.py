"""Measure audit log append and verify throughput.

Usage, from the repository root:
    PYTHONPATH=. python bench/audit_bench.py [--records N] [--fsync-records N] [--writers N]

Prints a Markdown table for docs/benchmarks.md. Each case writes to a fresh log
in a temporary folder: records through AuditSession.emit (stamping, schema check,
chain, one write each), the same with fsync, records appended by several
processes at once, and verify over the largest log.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import tempfile
import time
from pathlib import Path

from guard.audit import AuditOptions, AuditSession, open_audit_log, verify_logs

PROCESS_FIELDS = {
    "pid": 4321,
    "ppid": 4320,
    "start_time": 1714564800.25,
    "exe": "/usr/bin/python3.11",
    "argv": ["python3", "-m", "pipeline.publish", "--shot", "sq010_sh0040"],
    "cwd": "/jobs/show/sq010/sh0040",
    "uid": 1000,
    "sampled": False,
}


def emit_records(path: Path, count: int, fsync: bool) -> tuple[float, float]:
    """Emit `count` process.start records into the log; return the wall and CPU seconds taken."""
    with open_audit_log(AuditOptions(path=path, fsync=fsync, max_bytes=0)) as log:
        session = AuditSession(log)
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            session.emit("process.start", **PROCESS_FIELDS)
        return time.perf_counter() - start, time.process_time() - start_cpu


def _writer(path: Path, count: int, start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.001)
    emit_records(path, count, fsync=False)


def concurrent_records(path: Path, count: int, writers: int) -> float:
    """Emit `count` records from each of `writers` processes at once; return the wall time."""
    start_at = time.time() + 1.0
    processes = [multiprocessing.Process(target=_writer, args=(path, count, start_at)) for _ in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return time.time() - start_at


def verify_seconds(path: Path) -> tuple[float, float, int]:
    """Verify a log; return the wall and CPU seconds taken and the record count."""
    start, start_cpu = time.perf_counter(), time.process_time()
    report = verify_logs([path])
    elapsed, elapsed_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert report.ok, report.first_break
    return elapsed, elapsed_cpu, report.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records per case (default 100000)")
    parser.add_argument("--fsync-records", type=int, default=5_000, help="records in the fsync case (default 5000)")
    parser.add_argument("--writers", type=int, default=4, help="processes in the concurrent case (default 4)")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        seconds, cpu_seconds = emit_records(base / "plain.jsonl", args.records, fsync=False)
        rows.append(("append, one process, no fsync", args.records, seconds, cpu_seconds))
        seconds, cpu_seconds = emit_records(base / "fsync.jsonl", args.fsync_records, fsync=True)
        rows.append(("append, one process, fsync", args.fsync_records, seconds, cpu_seconds))
        per_writer = args.records // args.writers
        seconds = concurrent_records(base / "shared.jsonl", per_writer, args.writers)
        rows.append((f"append, {args.writers} processes at once, no fsync", per_writer * args.writers, seconds, None))
        seconds, cpu_seconds, records = verify_seconds(base / "plain.jsonl")
        rows.append(("verify", records, seconds, cpu_seconds))
        size = (base / "plain.jsonl").stat().st_size

    print(f"Python {platform.python_version()}, {platform.machine()}, {multiprocessing.cpu_count()} cores;")
    print(f"record size about {size // args.records} bytes")
    print()
    # Records per CPU second depend less on other load on the machine than the wall-clock rate.
    print("| case | records | seconds | records per second | records per CPU second |")
    print("|---|---:|---:|---:|---:|")
    for name, count, seconds, cpu_seconds in rows:
        cpu_rate = f"{count / cpu_seconds:,.0f}" if cpu_seconds else "-"
        print(f"| {name} | {count} | {seconds:.2f} | {count / seconds:,.0f} | {cpu_rate} |")


if __name__ == "__main__":
    main()
