"""Attribute the import time of a guarded launch to the modules that cost it.

Runs `python -X importtime` on the imports `rez-guard env` makes before it
forks, several times, and returns the median self time of each module group:
every guard module on its own, and third-party packages as a whole. Python's
import-time tracing adds its own overhead, so these figures are for comparing
modules with each other, not for adding up to a launch time.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

# The imports `rez-guard env` makes before it forks the recording child.
_LAUNCH_IMPORTS = (
    "from guard.lazy_rez import defer_dot_parser\n"
    "defer_dot_parser()\n"
    "import guard.cli.main, guard.cli.env\n"
)


def _group(module: str) -> str:
    top = module.split(".")[0]
    if top in ("guard", "shells"):
        return module
    return top


def _self_times(stderr: str) -> dict[str, int]:
    groups: dict[str, int] = defaultdict(int)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|")
        groups[_group(name.strip())] += int(self_us)
    return groups


def measure_imports(repo_root: Path, environ: Mapping[str, str], runs: int = 9) -> dict[str, float]:
    """Return the median import self time in seconds of each module group, largest first."""
    samples: dict[str, list[int]] = defaultdict(list)
    for _ in range(runs):
        result = subprocess.run([sys.executable, "-X", "importtime", "-c", _LAUNCH_IMPORTS], capture_output=True,
                                text=True, cwd=repo_root, env=dict(environ), check=True)
        for group, self_us in _self_times(result.stderr).items():
            samples[group].append(self_us)
    medians = {group: statistics.median(values) / 1e6 for group, values in samples.items()}
    own = sum(seconds for group, seconds in medians.items() if group.split(".")[0] in ("guard", "shells"))
    medians["(guard and shells modules together)"] = own
    return dict(sorted(medians.items(), key=lambda item: -item[1]))
