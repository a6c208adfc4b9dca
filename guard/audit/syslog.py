"""The syslog sink: audit records sent to a collector as RFC 5424 messages.

The message body is the record's log line, byte for byte, so a collector's copy
carries the same hash chain and `verify` can check it. Transports:

- unix: a datagram socket such as /dev/log (what rsyslog's imuxsock serves).
- udp: one datagram per message (RFC 5426).
- tcp: octet-counted framing, `LENGTH SP MESSAGE` (RFC 6587, section 3.4.1).

Collectors often cut messages at 8 KiB by default (rsyslog's maxMessageSize). A
decision record with many variants is larger, so raise that limit on the collector.
"""

from __future__ import annotations

import enum
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from guard.errors import ConfigError
from guard.fastclass import dataclass

logger = logging.getLogger(__name__)

DEFAULT_PORT: Final = 514
# After a failed send, the sink waits this long before it connects again, so a
# collector that is down does not slow every record.
RETRY_SECONDS: Final = 5.0

# Facility codes from RFC 5424, section 6.2.1.
FACILITIES: Final[Mapping[str, int]] = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    "audit": 13,
    "alert": 14,
    "clock": 15,
    **{f"local{number}": 16 + number for number in range(8)},
}


class Severity(enum.IntEnum):
    """Syslog severities from RFC 5424, section 6.2.1."""

    EMERGENCY = 0
    ALERT = 1
    CRITICAL = 2
    ERROR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


class Transport(enum.StrEnum):
    """The transport that carries syslog messages to the collector."""

    UNIX = "unix"
    UDP = "udp"
    TCP = "tcp"


@dataclass(frozen=True, slots=True)
class SinkSpec:
    """The address of a syslog collector for audit records, and how to reach it.

    `address` is a socket path for unix and a host name or IP address for udp and
    tcp. `timeout` (seconds) bounds a TCP connect or send.
    """

    transport: Transport
    address: str
    port: int = DEFAULT_PORT
    facility: str = "authpriv"
    app_name: str = "rez-guard"
    timeout: float = 2.0

    def __post_init__(self) -> None:
        if self.facility not in FACILITIES:
            raise ConfigError(
                f"invalid syslog facility {self.facility!r} in audit sink {self}; "
                f"use one of {', '.join(FACILITIES)}"
            )
        if not self.address:
            raise ConfigError(f"audit sink {self.transport.value}:// has no address; add a socket path or host")

    @classmethod
    def parse(cls, text: str) -> SinkSpec:
        """Parse `unix:///dev/log`, `udp://HOST[:PORT]` or `tcp://HOST[:PORT]`.

        An optional query sets the facility: `udp://127.0.0.1:514?facility=local0`.
        """
        parts = urlsplit(text)
        try:
            transport = Transport(parts.scheme)
        except ValueError:
            raise ConfigError(
                f"invalid audit sink {text!r}: the scheme must be unix, udp or tcp, "
                "as in udp://127.0.0.1:514 or unix:///dev/log"
            ) from None

        facility = parse_qs(parts.query).get("facility", ["authpriv"])[-1]
        if transport is Transport.UNIX:
            return cls(transport=transport, address=parts.path, facility=facility)
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise ConfigError(f"invalid port in audit sink {text!r}; use a number from 1 to 65535") from None
        return cls(transport=transport, address=parts.hostname or "", port=port, facility=facility)

    def __str__(self) -> str:
        if self.transport is Transport.UNIX:
            return f"unix://{self.address}"
        return f"{self.transport.value}://{self.address}:{self.port}"


def severity_of(record: Mapping[str, Any]) -> Severity:
    """Map a record to a syslog severity: errors and alerts stand out, denials are notices."""
    match record.get("event"):
        case "alert":
            return Severity.ALERT
        case "error":
            return Severity.ERROR
        case "drift":
            return Severity.WARNING
        case "decision" if record.get("decision") == "deny":
            return Severity.NOTICE
        case _:
            return Severity.INFO


def format_message(spec: SinkSpec, record: Mapping[str, Any], line: bytes) -> bytes:
    """Build the RFC 5424 message: header fields from the record, the log line as MSG.

    The structured data is empty ("-") because the JSON body carries every field.
    """
    priority = FACILITIES[spec.facility] * 8 + severity_of(record)
    header = " ".join(
        (
            f"<{priority}>1",
            _header_field(record.get("server_time"), 128),
            _header_field(record.get("submithost"), 255),
            _header_field(spec.app_name, 48),
            _header_field(record.get("guard_pid"), 128),
            _header_field(record.get("event"), 32),
            "-",
        )
    )
    return header.encode("ascii") + b" " + line


def _header_field(value: Any, max_length: int) -> str:
    # RFC 5424 header fields are printable US-ASCII without spaces; "-" means unknown.
    text = "" if value is None else str(value)
    text = "".join(char for char in text if "!" <= char <= "~")[:max_length]
    return text or "-"


class SyslogSink:
    """A connection to one syslog collector that sends each record as one message."""

    def __init__(self, spec: SinkSpec, clock: Any = time.monotonic) -> None:
        self.spec = spec
        self._clock = clock
        self._socket: socket.socket | None = None
        self._retry_at = 0.0
        self._failures = 0

    def connect(self) -> None:
        """Open the socket; raise OSError when the collector cannot be reached.

        A UDP socket connects without a packet, so this cannot tell whether a UDP
        collector listens; the first sends report an ICMP port-unreachable instead.
        """
        self._disconnect()
        self._socket = self._open_socket()
        self._retry_at = 0.0

    def send(self, record: Mapping[str, Any], line: bytes) -> bool:
        """Send one record; return False when it could not be sent.

        While the collector is down, records are dropped for this sink without a
        new attempt until RETRY_SECONDS have passed; the local log keeps them.
        NOTE: dropped records are not spooled or resent when the collector is back.
        """
        sock = self._socket
        if sock is None:
            if self._clock() < self._retry_at:
                self._failures += 1
                return False
            try:
                sock = self._socket = self._open_socket()
            except OSError as error:
                self._fail(error)
                return False

        message = format_message(self.spec, record, line)
        if self.spec.transport is Transport.TCP:
            message = str(len(message)).encode("ascii") + b" " + message
        try:
            sock.sendall(message)
        except OSError as error:
            self._fail(error)
            return False
        if self._failures:
            logger.warning(
                "audit sink %s is reachable again; %d records were not sent to it", self.spec, self._failures
            )
            self._failures = 0
        return True

    def close(self) -> None:
        """Close the socket, if open, and report records that were never sent."""
        if self._failures:
            logger.warning("audit sink %s: %d records were not sent", self.spec, self._failures)
            self._failures = 0
        self._disconnect()

    def _disconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _open_socket(self) -> socket.socket:
        spec = self.spec
        if spec.transport is Transport.UNIX:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            target: Any = spec.address
        else:
            kind = socket.SOCK_DGRAM if spec.transport is Transport.UDP else socket.SOCK_STREAM
            family, _, _, _, target = socket.getaddrinfo(spec.address, spec.port, type=kind)[0]
            sock = socket.socket(family, kind)
        sock.settimeout(spec.timeout)
        try:
            sock.connect(target)
        except OSError:
            sock.close()
            raise
        return sock

    def _fail(self, error: OSError) -> None:
        self._disconnect()
        self._retry_at = self._clock() + RETRY_SECONDS
        self._failures += 1
        # Only the first failure of an outage is logged. The rest are counted and
        # reported when the collector is back, so a long outage does not flood stderr.
        if self._failures == 1:
            logger.warning(
                "audit sink %s failed (%s); records stay in the local log, retrying in %.0f s",
                self.spec,
                error,
                RETRY_SECONDS,
            )
