"""Layer 3: new user, mount, network and IPC namespaces for the child.

In its new network namespace the child has only a loopback device that is down,
so it has no network at all. In its new mount namespace the guard's folders and
the package repositories are bind-mounted read-only over themselves. The child
then enters a second user namespace: mounts that a less privileged namespace
inherits are locked, so the child cannot unmount the read-only binds or mount
them writable again.

Creating user namespaces without privileges is often disabled (a sysctl, or an
AppArmor or SELinux rule), so the layer is tried in the child and reported as off
when the kernel refuses. The child's own user and group IDs map to themselves, so
rez and package code get the same IDs as without the layer. As root the child loses
its capabilities over files owned by users the namespace does not map.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from guard.sandbox import libc
from guard.sandbox.options import overlaps
from guard.sandbox.report import Layer, LayerState

logger = logging.getLogger(__name__)

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000

# A remount inside a user namespace must keep the locked flags of the mount, or it
# fails with EPERM. These map the statvfs flags to their mount(2) flags.
_KEPT_MOUNT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}


def _write(path: str, text: str) -> None:
    # A raw descriptor: a text stream would import the ascii codec in the child on every launch.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _map_own_ids(uid: int, gid: int) -> None:
    # Writing "deny" to setgroups first is what lets an unprivileged process write gid_map.
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _bind_readonly(folder: Path) -> None:
    libc.mount(str(folder), str(folder), None, MS_BIND | MS_REC)
    current = os.statvfs(folder).f_flag
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY
    for statvfs_flag, mount_flag in _KEPT_MOUNT_FLAGS.items():
        if current & statvfs_flag:
            flags |= mount_flag
    libc.mount(None, str(folder), None, flags)


def _readonly_targets(folders: Sequence[Path], writable: Sequence[Path]) -> list[Path]:
    targets = []
    for folder in folders:
        real = folder.resolve()
        if not real.is_dir():
            continue
        # A read-only bind would also cover any allowed folder inside it.
        if any(overlaps(real, allowed.resolve()) for allowed in writable):
            logger.debug("not binding %s read-only: an allowed folder is inside it", real)
            continue
        targets.append(real)
    return list(dict.fromkeys(targets))


def enter(readonly: Sequence[Path], writable: Sequence[Path]) -> LayerState:
    """Move the calling process into new namespaces and bind `readonly` read-only.

    Returns the layer's state; a refusal by the kernel leaves the process as it was.
    """
    uid, gid = os.geteuid(), os.getegid()
    try:
        libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)
    except OSError as error:
        return LayerState(Layer.NAMESPACES, False, f"unshare refused: {error.strerror}")

    # From here the network is already cut off, so a later failure leaves the layer partly on.
    try:
        _map_own_ids(uid, gid)
        libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
        targets = _readonly_targets(readonly, writable)
        for folder in targets:
            _bind_readonly(folder)
        libc.unshare(CLONE_NEWUSER | CLONE_NEWNS)
        _map_own_ids(uid, gid)
    except OSError as error:
        logger.warning("namespace layer only partly set up: %s", error)
        return LayerState(Layer.NAMESPACES, True, f"network and IPC only; the rest failed: {error}")
    return LayerState(Layer.NAMESPACES, True, f"user, mount, network, IPC; {len(targets)} folders read-only")
