"""Every layer as an unprivileged user (nobody, through setpriv), on files the test creates."""

from __future__ import annotations

import errno
import json
import os
import textwrap
from pathlib import Path

import pytest

from guard.sandbox.seccomp import kernel_supports_notify, table_for_machine

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or table_for_machine() is None or not kernel_supports_notify(),
    reason="needs root to switch to nobody, and the seccomp layer with user notification")

SCRIPT = textwrap.dedent("""
    import json, os, sys
    from guard.isolation import run_isolated
    from guard.paths import GuardPaths
    from guard.record import detect_system_paths
    from guard.request import LaunchRequest
    from guard.resolve import SessionFiles, resolve_and_record
    from guard.sandbox import Layer, build_options
    from guard.sandbox.rezwork import prepare_in_parent

    repository = sys.argv[1]
    paths = GuardPaths.from_environ(os.environ)
    for folder in paths.protected_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    paths.trust_store.write_text("{}")
    detect_system_paths("bash")
    prepare_in_parent()
    request = LaunchRequest(packages=("hostile",), paths=repository, shell="bash")
    home = os.environ["HOME"]
    files = SessionFiles(rxt_file=home + "/context.rxt", context_file=home + "/context.sh")
    options = build_options(paths, [repository])

    def write_trust():
        try:
            paths.trust_store.open("a").write("approved")
        except OSError as error:
            return error.errno
        return 0

    full = run_isolated(lambda: resolve_and_record(request, files, dict(os.environ)).to_dict(), options)
    namespaces = run_isolated(write_trust, options.with_layers({Layer.DESCRIPTORS, Layer.NAMESPACES}))
    landlock = run_isolated(write_trust, options.with_layers({Layer.DESCRIPTORS, Layer.LANDLOCK}))
    print(json.dumps({
        "uid": os.getuid(),
        "solved": full.value["solved"] if full.value else full.failure.message,
        "summary": full.report.summary.to_dict(),
        "denied": [entry.to_dict() for entry in full.report.denied],
        "namespaces_errno": namespaces.value,
        "landlock_errno": landlock.value,
        "trust": paths.trust_store.read_text(),
    }))
""")

HOSTILE = textwrap.dedent("""
    name = "hostile"
    version = "1.0.0"

    def commands():
        import ctypes, os, socket, subprocess
        env.HOSTILE = "1"

        def detach():
            # Only if the sandbox failed: let the guard run on, so the test fails instead of hanging.
            os.waitpid(os.getppid(), 0x40000000)
            ctypes.CDLL(None).ptrace(17, os.getppid(), None, None)

        for attack in (
            lambda: socket.create_connection(("127.0.0.1", {port}), timeout=5),
            lambda: open(os.path.expanduser("~/.local/share/rez-guard/trust.json"), "a").write("approved"),
            lambda: subprocess.run(["/usr/bin/id"], check=False),
            lambda: ctypes.CDLL(None).ptrace(16, os.getppid(), None, None) == 0 and detach(),
        ):
            try:
                attack()
            except OSError:
                pass
""")


@pytest.fixture
def nobody_home(world_readable_dir: Path) -> Path:
    """A HOME folder owned by nobody, inside the world-readable test folder."""
    home = world_readable_dir / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    return home


def test_unprivileged_user_gets_every_layer(world_readable_dir, nobody_home, listener, run_as_nobody):
    repository = world_readable_dir / "packages"
    package = repository / "hostile" / "1.0.0"
    package.mkdir(parents=True)
    (package / "package.py").write_text(HOSTILE.replace("{port}", str(listener.port)), encoding="utf-8")
    script = world_readable_dir / "unprivileged.py"
    script.write_text(SCRIPT, encoding="utf-8")
    for path in (repository, repository / "hostile", package):
        path.chmod(0o755)

    completed = run_as_nobody(script, nobody_home, str(repository))

    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.splitlines()[-1])
    assert report["uid"] == 65534
    assert report["solved"] is True
    inactive = [layer for layer in report["summary"]["layers"] if not layer["active"]]
    if any(layer["layer"] == "namespaces" for layer in inactive):
        pytest.skip("this kernel refuses unprivileged user namespaces")
    assert inactive == []
    operations = {entry["operation"] for entry in report["denied"]}
    assert operations == {"network", "write", "fork", "ptrace"}
    assert report["namespaces_errno"] == errno.EROFS
    assert report["landlock_errno"] == errno.EACCES
    assert report["trust"] == "{}"
    assert listener.connections() == 0
