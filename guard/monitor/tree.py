"""Finding the processes of one process tree by walking /proc.

The tree is the shell (the root) and its descendants, plus the orphans the
guard adopted as a child subreaper. Walking only these processes costs a few
reads per process instead of a scan of every process on the system.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from guard.monitor.procfs import ProcessSource, ProcStat


class TreeWalker:
    """Lists the processes of the tree under one root, with their state."""

    def __init__(self, source: ProcessSource, root_pid: int, guard_pid: int | None = None) -> None:
        self.source = source
        self.root_pid = root_pid
        self.guard_pid = os.getpid() if guard_pid is None else guard_pid
        # The guard's children that started before the root belong to the guard
        # itself (pid -> start key), never to the tree. Orphans the shell leaves
        # may already be the guard's children here, but they started later.
        self._foreign: dict[int, int] = {}
        source.refresh()
        root = source.stat(root_pid)
        for pid in source.children(self.guard_pid):
            stat = source.stat(pid)
            if pid == root_pid or stat is None:
                continue
            if root is None or stat.start_key < root.start_key:
                self._foreign[pid] = stat.start_key

    def add_foreign(self, stat: ProcStat) -> None:
        """Treat this child of the guard as the guard's own from now on."""
        self._foreign[stat.pid] = stat.start_key

    def is_foreign(self, stat: ProcStat) -> bool:
        """True for a child the guard had before the tree started."""
        return self._foreign.get(stat.pid) == stat.start_key

    # NOTE: a child the guard starts after the tree started is taken for an
    # adopted orphan unless passed to `add_foreign`, because /proc cannot tell
    # the two apart.
    def walk(self, known: Mapping[int, int] | None = None) -> dict[int, ProcStat]:
        """Return every process of the tree now, zombies included, by pid.

        `known` maps the pids tracked so far to their start keys. A known
        process that is no longer below the root or the guard (it was adopted
        by another subreaper or by init) is still part of the tree, and so are
        its descendants.
        """
        self.source.refresh()
        found: dict[int, ProcStat] = {}
        self._descend([self.root_pid], found)
        for pid in self.source.children(self.guard_pid):
            if pid in found:
                continue
            stat = self.source.stat(pid)
            if stat is not None and not self.is_foreign(stat):
                self._add(stat, found)

        known = known or {}
        escaped = [pid for pid in known if pid not in found]
        for pid in escaped:
            stat = self.source.stat(pid)
            if stat is not None and stat.start_key == known[pid]:
                self._add(stat, found)
        return found

    def _add(self, stat: ProcStat, found: dict[int, ProcStat]) -> None:
        found[stat.pid] = stat
        if not stat.zombie:
            self._descend(self.source.children(stat.pid, stat.threads), found)

    def _descend(self, pending: list[int], found: dict[int, ProcStat]) -> None:
        while pending:
            pid = pending.pop()
            if pid in found:
                continue
            stat = self.source.stat(pid)
            if stat is None:
                continue
            found[pid] = stat
            if not stat.zombie:
                pending.extend(self.source.children(pid, stat.threads))
