"""The syslog sink: message format, and delivery to a real rsyslogd on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit_helpers import emit_session
from guard.audit import AuditOptions, AuditSession, SinkSpec, Transport, open_audit_log, verify_logs
from guard.audit.syslog import SyslogSink, format_message
from guard.errors import ConfigError

RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd" if os.path.exists("/usr/sbin/rsyslogd") else None)
# Bounds on waiting for rsyslogd, so a broken daemon fails the test instead of hanging it.
WAIT_LIMIT_SECONDS = 30
FIELD_SEPARATOR = "|"


def test_sink_spec_parses_transports() -> None:
    assert SinkSpec.parse("unix:///dev/log") == SinkSpec(Transport.UNIX, "/dev/log")
    assert SinkSpec.parse("udp://127.0.0.1") == SinkSpec(Transport.UDP, "127.0.0.1", 514)
    assert SinkSpec.parse("tcp://127.0.0.1:6514?facility=local3") == SinkSpec(
        Transport.TCP, "127.0.0.1", 6514, facility="local3"
    )


@pytest.mark.parametrize(
    "text", ["http://127.0.0.1", "udp://127.0.0.1:99999", "tcp://127.0.0.1?facility=bogus", "tcp://"]
)
def test_sink_spec_rejects_invalid(text: str) -> None:
    with pytest.raises(ConfigError):
        SinkSpec.parse(text)


def test_message_is_rfc5424_with_line_as_body() -> None:
    spec = SinkSpec(Transport.UDP, "127.0.0.1", facility="local0")
    record = {
        "event": "decision",
        "decision": "deny",
        "server_time": "2024-05-01T12:00:00.500000Z",
        "submithost": "ws 01",
        "guard_pid": 4321,
    }

    message = format_message(spec, record, b'{"event":"decision"}')

    # local0 (16) * 8 + notice (5) = 133; the space in the host name is dropped.
    assert message == b'<133>1 2024-05-01T12:00:00.500000Z ws01 rez-guard 4321 decision - {"event":"decision"}'


def test_tcp_messages_are_octet_counted(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        sink = SyslogSink(SinkSpec(Transport.TCP, "127.0.0.1", server.getsockname()[1]))
        sink.connect()
        connection, _ = server.accept()
        record = {"event": "alert", "server_time": "2024-05-01T12:00:00.000000Z", "submithost": "h", "guard_pid": 1}
        assert sink.send(record, b"{}")
        sink.close()
        with connection:
            received = connection.makefile("rb").read()

    expected = format_message(sink.spec, record, b"{}")
    assert received == str(len(expected)).encode() + b" " + expected


@dataclass(frozen=True)
class Collector:
    """A running rsyslogd with one input per transport, writing to one file."""

    output: Path
    unix_socket: Path
    udp_port: int
    tcp_port: int

    def sink(self, transport: Transport) -> SinkSpec:
        if transport is Transport.UNIX:
            return SinkSpec(transport, str(self.unix_socket))
        port = self.udp_port if transport is Transport.UDP else self.tcp_port
        return SinkSpec(transport, "127.0.0.1", port, facility="local4")

    def messages(self) -> list[list[str]]:
        if not self.output.exists():
            return []
        text = self.output.read_text(encoding="utf-8")
        return [line.split(FIELD_SEPARATOR, 6) for line in text.splitlines()]


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


RSYSLOG_CONFIG = """\
global(workDirectory="{spool}" maxMessageSize="256k" net.enableDNS="off")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{unix_socket}" UseSpecialParser="off" ParseHostname="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{tcp_port}")
template(name="fields" type="string"
         string="%inputname%|%syslogfacility-text%|%syslogseverity-text%|%app-name%|%procid%|%msgid%|%msg%\\n")
action(type="omfile" file="{output}" template="fields")
"""


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """Start rsyslogd in the foreground with its own config and spool folder on 127.0.0.1."""
    if RSYSLOGD is None:
        if os.environ.get("CI") == "true":
            pytest.fail("rsyslogd is missing; CI must install the rsyslog package")
        pytest.skip("rsyslogd is not installed (apt-get install rsyslog)")

    folder = tmp_path_factory.mktemp("rsyslog")
    spool = folder / "spool"
    spool.mkdir(parents=True)
    found = Collector(
        output=folder / "messages.log",
        unix_socket=folder / "log.sock",
        udp_port=free_port(socket.SOCK_DGRAM),
        tcp_port=free_port(socket.SOCK_STREAM),
    )
    config = folder / "rsyslog.conf"
    config.write_text(
        RSYSLOG_CONFIG.format(
            spool=spool,
            unix_socket=found.unix_socket,
            udp_port=found.udp_port,
            tcp_port=found.tcp_port,
            output=found.output,
        )
    )
    daemon = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(config), "-i", str(folder / "rsyslogd.pid")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_ready(found, daemon)
        yield found
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=WAIT_LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        assert daemon.stdout is not None
        daemon.stdout.close()


def wait_until_ready(found: Collector, daemon: subprocess.Popen[bytes]) -> None:
    """Send probes over each transport until rsyslogd has written one from each."""
    probe = {"event": "probe", "server_time": "2024-05-01T12:00:00.000000Z", "submithost": "test", "guard_pid": 1}
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while True:
        if daemon.poll() is not None:
            assert daemon.stdout is not None
            pytest.fail(f"rsyslogd exited with {daemon.returncode}: {daemon.stdout.read().decode()}")
        seen = {fields[0] for fields in found.messages() if len(fields) == 7 and fields[5] == "probe"}
        if {"imuxsock", "imudp", "imtcp"} <= seen:
            return
        assert time.monotonic() < deadline, f"rsyslogd did not receive probes in time; seen {seen}"
        # A new sink each round, because a sink waits before it reconnects after a failure.
        for transport in Transport:
            sink = SyslogSink(found.sink(transport))
            sink.send(probe, transport.value.encode())
            sink.close()
        time.sleep(0.2)


def wait_for_messages(found: Collector, input_name: str, count: int) -> list[list[str]]:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while True:
        messages = [fields for fields in found.messages() if fields[0] == input_name and fields[5] != "probe"]
        if len(messages) >= count:
            return messages
        assert time.monotonic() < deadline, f"rsyslogd wrote {len(messages)} of {count} messages from {input_name}"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("transport", "input_name", "facility"),
    [
        (Transport.UNIX, "imuxsock", "authpriv"),
        (Transport.UDP, "imudp", "local4"),
        (Transport.TCP, "imtcp", "local4"),
    ],
)
def test_rsyslogd_receives_chain(
    tmp_path: Path, collector: Collector, transport: Transport, input_name: str, facility: str
) -> None:
    path = tmp_path / "audit.jsonl"
    with open_audit_log(AuditOptions(path=path, sinks=(collector.sink(transport),), required=True)) as log:
        session = AuditSession(log)
        count = emit_session(session)
        session.emit("error", error="Denied", message="denied by policy: ünïcode", exit_code=5)
        count += 1

    messages = wait_for_messages(collector, input_name, count)
    local_lines = path.read_text(encoding="utf-8").splitlines()
    assert [fields[6] for fields in messages] == local_lines
    assert {fields[1] for fields in messages} == {facility}
    assert {fields[3] for fields in messages} == {"rez-guard"}
    assert {fields[4] for fields in messages} == {str(os.getpid())}
    assert [fields[5] for fields in messages][:2] == ["session.start", "decision"]
    assert messages[-1][2] == "err"

    # The collector's copy is byte for byte the local log, so it verifies as a chain.
    collected = tmp_path / "collected.jsonl"
    collected.write_text("".join(fields[6] + "\n" for fields in messages), encoding="utf-8")
    assert verify_logs([collected]).problems == ()
