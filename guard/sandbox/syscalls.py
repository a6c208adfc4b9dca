"""The system calls the seccomp layer filters, and how to read their arguments.

Each rule sets how the filter treats one call and, for the guard's side, which
arguments name the path, descriptor or process it acts on. Numbers are those of
the x86_64 table (`asm/unistd_64.h`); other architectures have no table yet and
run without the seccomp layer.
"""

from __future__ import annotations

import enum

from guard.fastclass import dataclass
from guard.sandbox.report import Operation


class Check(enum.Enum):
    """The treatment of one system call by the filter and the guard."""

    DENY = "deny"                        # always denied and reported
    OPEN = "open"                        # decided by path when the flags ask for writing
    PATH_WRITE = "path_write"            # creates, removes or renames: decided by path
    PATH_METADATA = "path_metadata"      # chmod, chown, utime, xattr by path: decided by path
    FD_METADATA = "fd_metadata"          # the same through a descriptor: decided by its path
    INHERITED_WRITE = "inherited_write"  # denied when the descriptor is one the child inherited
    CLONE = "clone"                      # allowed for threads, denied for processes
    SIGNAL = "signal"                    # allowed toward the child itself, denied toward others
    IOCTL = "ioctl"                      # denied for terminal input and inode flag changes
    PRCTL = "prctl"                      # denied when it would install another seccomp filter
    NOSYS = "nosys"                      # fails with ENOSYS, so the C library falls back (clone3)


@dataclass(frozen=True, slots=True)
class PathArgument:
    """The position of a call's path: the path pointer and, for the *at calls, the directory descriptor."""

    path: int
    dirfd: int | None = None
    follow: bool = True


@dataclass(frozen=True, slots=True, bulk=True)
class SyscallRule:
    """One filtered system call."""

    name: str
    number: int
    check: Check
    operation: Operation
    paths: tuple[PathArgument, ...] = ()
    fd: int | None = None
    flags: int | None = None


@dataclass(frozen=True, slots=True)
class SyscallTable:
    """The rules of one architecture and the numbers its filter needs."""

    machine: str
    audit_arch: int
    seccomp_number: int
    rules: tuple[SyscallRule, ...]
    # Calls numbered at or above this belong to another ABI on the same architecture (x32).
    foreign_abi_bit: int | None = None

    def by_number(self) -> dict[int, SyscallRule]:
        """Return the rules keyed by system call number."""
        return {rule.number: rule for rule in self.rules}


# open(2) flags that ask for writing or creating: O_WRONLY, O_RDWR, O_CREAT, O_TRUNC.
WRITE_OPEN_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000
CLONE_THREAD = 0x00010000
PR_SET_SECCOMP = 22
TERMINAL_INPUT_IOCTLS = {0x5412: "TIOCSTI", 0x541C: "TIOCLINUX"}
INODE_FLAG_IOCTLS = {0x40086602: "FS_IOC_SETFLAGS", 0x40046602: "FS_IOC32_SETFLAGS", 0x401C5820: "FS_IOC_FSSETXATTR"}
AT_FDCWD = -100


def _deny(name: str, number: int, operation: Operation = Operation.SYSTEM_CALL,
          paths: tuple[PathArgument, ...] = ()) -> SyscallRule:
    return SyscallRule(name, number, Check.DENY, operation, paths)


def _path(name: str, number: int, check: Check, *paths: PathArgument, flags: int | None = None) -> SyscallRule:
    operation = Operation.WRITE if check in (Check.OPEN, Check.PATH_WRITE) else Operation.CHANGE_METADATA
    return SyscallRule(name, number, check, operation, paths, flags=flags)


def _inherited(name: str, number: int, fd: int) -> SyscallRule:
    return SyscallRule(name, number, Check.INHERITED_WRITE, Operation.INHERITED_DESCRIPTOR, fd=fd)


_P = PathArgument
_NOFOLLOW = False

X86_64 = SyscallTable(
    machine="x86_64",
    audit_arch=0xC000003E,
    seccomp_number=317,
    foreign_abi_bit=0x40000000,
    rules=(
        # Programs and processes.
        _deny("execve", 59, Operation.EXEC, (_P(0),)),
        _deny("execveat", 322, Operation.EXEC, (_P(1, dirfd=0),)),
        _deny("fork", 57, Operation.FORK),
        _deny("vfork", 58, Operation.FORK),
        SyscallRule("clone", 56, Check.CLONE, Operation.FORK, flags=0),
        SyscallRule("clone3", 435, Check.NOSYS, Operation.FORK),
        # Network: no socket at all; the child keeps only the socket pair the guard gave it.
        _deny("socket", 41, Operation.NETWORK),
        # Other processes.
        _deny("ptrace", 101, Operation.PTRACE),
        _deny("process_vm_readv", 310, Operation.PTRACE),
        _deny("process_vm_writev", 311, Operation.PTRACE),
        _deny("pidfd_getfd", 438, Operation.PTRACE),
        _deny("kcmp", 312, Operation.PTRACE),
        _deny("process_madvise", 440, Operation.PTRACE),
        _deny("move_pages", 279, Operation.PTRACE),
        _deny("migrate_pages", 256, Operation.PTRACE),
        _deny("pidfd_send_signal", 424, Operation.SIGNAL),
        SyscallRule("kill", 62, Check.SIGNAL, Operation.SIGNAL),
        SyscallRule("tkill", 200, Check.SIGNAL, Operation.SIGNAL),
        SyscallRule("tgkill", 234, Check.SIGNAL, Operation.SIGNAL),
        SyscallRule("rt_sigqueueinfo", 129, Check.SIGNAL, Operation.SIGNAL),
        SyscallRule("rt_tgsigqueueinfo", 297, Check.SIGNAL, Operation.SIGNAL),
        SyscallRule("ioctl", 16, Check.IOCTL, Operation.TERMINAL_INPUT, fd=0, flags=1),
        SyscallRule("prctl", 157, Check.PRCTL, Operation.SYSTEM_CALL, flags=0),
        # Calls that bypass or widen the filter, or change the system.
        *(_deny(name, number) for name, number in (
            ("io_uring_setup", 425), ("io_uring_enter", 426), ("io_uring_register", 427),
            ("seccomp", 317), ("unshare", 272), ("setns", 308), ("mount", 165), ("umount2", 166),
            ("pivot_root", 155), ("chroot", 161), ("open_tree", 428), ("move_mount", 429), ("fsopen", 430),
            ("fsconfig", 431), ("fsmount", 432), ("fspick", 433), ("mount_setattr", 442),
            ("open_tree_attr", 467), ("bpf", 321), ("perf_event_open", 298), ("userfaultfd", 323),
            ("keyctl", 250), ("add_key", 248), ("request_key", 249), ("init_module", 175),
            ("finit_module", 313), ("delete_module", 176), ("kexec_load", 246), ("kexec_file_load", 320),
            ("reboot", 169), ("swapon", 167), ("swapoff", 168), ("settimeofday", 164),
            ("clock_settime", 227), ("clock_adjtime", 305), ("adjtimex", 159), ("acct", 163),
            ("quotactl", 179), ("quotactl_fd", 443), ("syslog", 103), ("vhangup", 153), ("iopl", 172),
            ("ioperm", 173), ("uselib", 134), ("sethostname", 170), ("setdomainname", 171),
            ("name_to_handle_at", 303), ("open_by_handle_at", 304),
        )),
        # Opening files for writing.
        _path("open", 2, Check.OPEN, _P(0), flags=1),
        _path("openat", 257, Check.OPEN, _P(1, dirfd=0), flags=2),
        _path("creat", 85, Check.OPEN, _P(0)),
        _path("openat2", 437, Check.OPEN, _P(1, dirfd=0)),
        # Creating, removing and renaming (both ends of a link or rename must be allowed).
        _path("rename", 82, Check.PATH_WRITE, _P(0, follow=_NOFOLLOW), _P(1, follow=_NOFOLLOW)),
        _path("renameat", 264, Check.PATH_WRITE, _P(1, 0, _NOFOLLOW), _P(3, 2, _NOFOLLOW)),
        _path("renameat2", 316, Check.PATH_WRITE, _P(1, 0, _NOFOLLOW), _P(3, 2, _NOFOLLOW)),
        _path("link", 86, Check.PATH_WRITE, _P(0), _P(1, follow=_NOFOLLOW)),
        _path("linkat", 265, Check.PATH_WRITE, _P(1, 0), _P(3, 2, _NOFOLLOW)),
        _path("symlink", 88, Check.PATH_WRITE, _P(1, follow=_NOFOLLOW)),
        _path("symlinkat", 266, Check.PATH_WRITE, _P(2, 1, _NOFOLLOW)),
        _path("unlink", 87, Check.PATH_WRITE, _P(0, follow=_NOFOLLOW)),
        _path("unlinkat", 263, Check.PATH_WRITE, _P(1, 0, _NOFOLLOW)),
        _path("mkdir", 83, Check.PATH_WRITE, _P(0, follow=_NOFOLLOW)),
        _path("mkdirat", 258, Check.PATH_WRITE, _P(1, 0, _NOFOLLOW)),
        _path("rmdir", 84, Check.PATH_WRITE, _P(0, follow=_NOFOLLOW)),
        _path("mknod", 133, Check.PATH_WRITE, _P(0, follow=_NOFOLLOW)),
        _path("mknodat", 259, Check.PATH_WRITE, _P(1, 0, _NOFOLLOW)),
        _path("truncate", 76, Check.PATH_WRITE, _P(0)),
        # Metadata, which Landlock does not cover.
        _path("chmod", 90, Check.PATH_METADATA, _P(0)),
        _path("fchmodat", 268, Check.PATH_METADATA, _P(1, 0)),
        _path("fchmodat2", 452, Check.PATH_METADATA, _P(1, 0)),
        _path("chown", 92, Check.PATH_METADATA, _P(0)),
        _path("lchown", 94, Check.PATH_METADATA, _P(0, follow=_NOFOLLOW)),
        _path("fchownat", 260, Check.PATH_METADATA, _P(1, 0)),
        _path("utime", 132, Check.PATH_METADATA, _P(0)),
        _path("utimes", 235, Check.PATH_METADATA, _P(0)),
        _path("futimesat", 261, Check.PATH_METADATA, _P(1, 0)),
        _path("utimensat", 280, Check.PATH_METADATA, _P(1, 0)),
        _path("setxattr", 188, Check.PATH_METADATA, _P(0)),
        _path("lsetxattr", 189, Check.PATH_METADATA, _P(0, follow=_NOFOLLOW)),
        _path("removexattr", 197, Check.PATH_METADATA, _P(0)),
        _path("lremovexattr", 198, Check.PATH_METADATA, _P(0, follow=_NOFOLLOW)),
        _path("setxattrat", 463, Check.PATH_METADATA, _P(1, 0)),
        _path("removexattrat", 466, Check.PATH_METADATA, _P(1, 0)),
        _path("file_setattr", 469, Check.PATH_METADATA, _P(1, 0)),
        SyscallRule("fchmod", 91, Check.FD_METADATA, Operation.CHANGE_METADATA, fd=0),
        SyscallRule("fchown", 93, Check.FD_METADATA, Operation.CHANGE_METADATA, fd=0),
        SyscallRule("fsetxattr", 190, Check.FD_METADATA, Operation.CHANGE_METADATA, fd=0),
        SyscallRule("fremovexattr", 199, Check.FD_METADATA, Operation.CHANGE_METADATA, fd=0),
        # Writing through a descriptor the child inherited from the guard.
        _inherited("write", 1, 0),
        _inherited("pwrite64", 18, 0),
        _inherited("writev", 20, 0),
        _inherited("pwritev", 296, 0),
        _inherited("pwritev2", 328, 0),
        _inherited("ftruncate", 77, 0),
        _inherited("fallocate", 285, 0),
        _inherited("sendfile", 40, 0),
        _inherited("vmsplice", 278, 0),
        _inherited("tee", 276, 1),
        _inherited("splice", 275, 2),
        _inherited("copy_file_range", 326, 2),
    ),
)

# NOTE: only x86_64 has a table, so on aarch64 and other machines the seccomp layer is off.
TABLES = {X86_64.machine: X86_64}
