"""The trust store: lookups, deny records, fail-closed reading, and concurrent writers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guard import trust as trust_module
from guard.errors import ConfigError
from guard.plan import ResolvedVariant, StartupPlan
from guard.trust import TrustState, TrustStore, UnknownTrustEntry, context_identity, context_summary

FINGERPRINT = "f" * 64
IDENTITY = "1" * 64
SUMMARY = {"request": ["clean"], "resolve": ["clean-1.0.0[]"], "shell": "bash"}
WORKTREE = Path(__file__).resolve().parents[2]
WRITERS = 50


@pytest.fixture
def store(tmp_path: Path) -> TrustStore:
    return TrustStore(tmp_path / "data" / "trust.json", clock=lambda: datetime(2024, 5, 1, tzinfo=UTC))


def plan(request: tuple[str, ...], variants: tuple[str, ...], shell: str = "bash") -> StartupPlan:
    resolved = tuple(
        ResolvedVariant(name, name.split("-")[0], "1.0", f"/repo/{name}", f"/repo/{name}", "filesystem@/repo", False)
        for name in variants
    )
    return StartupPlan(shell=shell, request=request, variants=resolved, actions=())


def test_empty_store_unknown(store: TrustStore):
    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.UNKNOWN
    assert store.entries() == []
    assert not store.path.exists()


def test_remembered_fingerprint_trusted(store: TrustStore):
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)

    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.TRUSTED
    assert store.lookup("e" * 64, IDENTITY) is TrustState.UNKNOWN
    entry = store.entries()[0]
    assert entry.created == "2024-05-01T00:00:00+00:00"
    assert dict(entry.summary) == SUMMARY


def test_store_file_private(store: TrustStore):
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)

    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.path.parent.stat().st_mode & 0o777 == 0o700


def test_deny_wins_over_trust(store: TrustStore):
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)
    store.deny(IDENTITY, SUMMARY)

    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.DENIED
    assert store.lookup("e" * 64, IDENTITY) is TrustState.DENIED
    assert [entry.state for entry in store.entries()] == [TrustState.DENIED]


def test_remember_lifts_deny(store: TrustStore):
    store.deny(IDENTITY, SUMMARY)
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)

    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.TRUSTED


def test_forget_removes_deny(store: TrustStore):
    store.deny(IDENTITY, SUMMARY)

    assert store.forget(IDENTITY) is True
    assert store.forget(IDENTITY) is False
    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.UNKNOWN


def test_find_by_prefix(store: TrustStore):
    store.remember("ab12" + "0" * 60, IDENTITY, SUMMARY)
    store.remember("ab34" + "0" * 60, "2" * 64, SUMMARY)

    assert store.find("ab1").key.startswith("ab12")
    with pytest.raises(UnknownTrustEntry, match="2 trust entries start with 'ab'"):
        store.find("ab")
    with pytest.raises(UnknownTrustEntry, match="no trust entry has key 'cd'"):
        store.find("cd")


def test_summary_must_be_json(store: TrustStore):
    with pytest.raises(TypeError):
        store.remember(FINGERPRINT, IDENTITY, {"when": object()})

    assert not store.path.exists()


@pytest.mark.parametrize("content", [
    b"{not json",
    b"",
    b"[]",
    b'{"format": "something-else", "version": 1, "entries": []}',
    b'{"format": "rez-guard-trust", "version": 99, "entries": [], "checksum": ""}',
    b"\xff\xfe",
], ids=["syntax", "empty", "list", "format", "version", "encoding"])
def test_corrupt_store_fails_closed(store: TrustStore, content: bytes):
    store.path.parent.mkdir(parents=True)
    store.path.write_bytes(content)
    store.path.chmod(0o600)

    with pytest.raises(ConfigError, match="nothing is trusted and the file is left as it is"):
        store.lookup(FINGERPRINT, IDENTITY)
    with pytest.raises(ConfigError):
        store.remember(FINGERPRINT, IDENTITY, SUMMARY)
    with pytest.raises(ConfigError):
        store.forget(FINGERPRINT)
    assert store.path.read_bytes() == content


def test_edited_entry_fails_checksum(store: TrustStore):
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)
    document = json.loads(store.path.read_text())
    document["entries"].append(dict(document["entries"][0], key="e" * 64, fingerprint="e" * 64))
    edited = json.dumps(document).encode()
    store.path.write_bytes(edited)

    with pytest.raises(ConfigError, match="checksum mismatch"):
        store.lookup("e" * 64, IDENTITY)
    assert store.path.read_bytes() == edited


def test_invalid_entry_fails_closed(store: TrustStore):
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)
    document = json.loads(store.path.read_text())
    document["entries"][0]["state"] = "maybe"
    store.path.write_text(json.dumps(_with_checksum(document)))

    with pytest.raises(ConfigError, match="invalid content"):
        store.lookup(FINGERPRINT, IDENTITY)


def test_store_writable_by_others_refused(store: TrustStore):
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)
    store.path.chmod(0o666)

    with pytest.raises(ConfigError, match="writable by other users"):
        store.lookup(FINGERPRINT, IDENTITY)
    assert store.path.stat().st_mode & 0o777 == 0o666


def test_store_link_refused(store: TrustStore, tmp_path: Path):
    real = TrustStore(tmp_path / "elsewhere.json")
    real.remember(FINGERPRINT, IDENTITY, SUMMARY)
    store.path.parent.mkdir(parents=True)
    store.path.symlink_to(real.path)

    with pytest.raises(ConfigError, match="cannot be used"):
        store.lookup(FINGERPRINT, IDENTITY)


def test_store_folder_instead_of_file(store: TrustStore):
    store.path.mkdir(parents=True)

    with pytest.raises(ConfigError, match="cannot be used"):
        store.lookup(FINGERPRINT, IDENTITY)


def test_unchanged_store_parsed_once(store: TrustStore, monkeypatch):
    decoded = []
    decode = trust_module._decode
    monkeypatch.setattr(trust_module, "_decode", lambda raw: decoded.append(len(raw)) or decode(raw))
    store.remember(FINGERPRINT, IDENTITY, SUMMARY)
    decoded.clear()

    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.TRUSTED
    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.TRUSTED
    assert len(decoded) == 1


def test_store_rereads_changed_file(store: TrustStore):
    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.UNKNOWN
    other = TrustStore(store.path)
    other.remember(FINGERPRINT, IDENTITY, SUMMARY)
    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.TRUSTED

    other.deny(IDENTITY, SUMMARY)
    assert store.lookup(FINGERPRINT, IDENTITY) is TrustState.DENIED


def test_concurrent_writers_lose_nothing(store: TrustStore):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from guard.trust import TrustStore\n"
        "store = TrustStore(Path(sys.argv[1]))\n"
        "number = int(sys.argv[2])\n"
        "store.remember(f'{number:064x}', f'{number:064x}', {'writer': number})\n"
        "if number % 5 == 0:\n"
        "    store.deny(f'{number + 1000:064x}', {'writer': number})\n"
    )
    environ = dict(os.environ, PYTHONPATH=str(WORKTREE))
    writers = [
        subprocess.Popen([sys.executable, "-c", script, str(store.path), str(number)], env=environ,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for number in range(WRITERS)
    ]
    try:
        results = [(writer.wait(timeout=300), writer.stderr.read()) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            writer.stdout.close()
            writer.stderr.close()

    assert [code for code, _stderr in results] == [0] * WRITERS, [stderr for _code, stderr in results if stderr]
    entries = store.entries()
    trusted = {entry.key for entry in entries if entry.state is TrustState.TRUSTED}
    denied = {entry.key for entry in entries if entry.state is TrustState.DENIED}
    assert trusted == {f"{number:064x}" for number in range(WRITERS)}
    assert denied == {f"{number + 1000:064x}" for number in range(0, WRITERS, 5)}
    assert list(store.path.parent.glob(".trust.json.*.tmp")) == []


def test_identity_ignores_shell():
    assert context_identity(plan(("a",), ("a-1.0",), "bash")) == context_identity(plan(("a",), ("a-1.0",), "zsh"))


def test_identity_covers_request_and_variants():
    base = context_identity(plan(("a",), ("a-1.0",)))

    assert context_identity(plan(("a-1",), ("a-1.0",))) != base
    assert context_identity(plan(("a",), ("a-1.1",))) != base
    assert len(base) == 64


def test_summary_of_plan():
    assert context_summary(plan(("a", "b"), ("a-1.0", "b-1.0"), "tcsh")) == {
        "request": ["a", "b"], "resolve": ["a-1.0", "b-1.0"], "shell": "tcsh",
    }


def _with_checksum(document: dict) -> dict:
    # The documented checksum: sha256 of the entries as compact JSON with sorted keys.
    canonical = json.dumps(document["entries"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return dict(document, checksum="sha256:" + hashlib.sha256(canonical.encode()).hexdigest())
