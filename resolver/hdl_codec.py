"""The Handle binary protocol codec: picks the compiled twin once, and splits and reassembles
UDP messages.

``encode_message``/``decode_message`` and the envelope and value-list codecs come from
``resolver._hdl_codec`` (Cython) unless extensions are disabled or unavailable, in which
case ``resolver.hdl_codec_py`` serves; ``IMPLEMENTATION`` says which ("c" or "py"). The
message objects are in :mod:`resolver.hdl_types`.

UDP carries at most 512 bytes per datagram (the Java client's receive buffer is exactly
that), so a longer message goes as several packets, each with the message's envelope, its
own sequence number and the *total* MessageLength.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from resolver._compat import load_twin
from resolver.errors import ProtocolError
from resolver.hdl_types import (
    ENVELOPE_SIZE,
    MAX_MESSAGE_LENGTH,
    UDP_PAYLOAD_SIZE,
    MessageFlag,
)
from resolver.ratelimit import HeldPerHost

_twin, IMPLEMENTATION = load_twin("resolver._hdl_codec", "resolver.hdl_codec_py")
decode_envelope = _twin.decode_envelope
decode_message = _twin.decode_message
decode_values = _twin.decode_values
encode_envelope = _twin.encode_envelope
encode_message = _twin.encode_message
encode_values = _twin.encode_values


def split_udp(message: bytes, *, mark_truncated: bool = False) -> list[bytes]:
    """The datagrams that carry an encoded message: itself if it fits in one, else packets
    of 492 message bytes, each behind the envelope with its sequence number.

    :param mark_truncated: set TC on the packets of a split message, as clients do on
        multi-packet requests (CNRI servers do not on responses).
    :raises ProtocolError: if ``message`` is not an envelope and as many bytes as it says.
    """
    _, length = decode_envelope(message)
    if length != len(message) - ENVELOPE_SIZE:
        raise ProtocolError(f"message length {length} but {len(message) - ENVELOPE_SIZE} follow")
    if length <= UDP_PAYLOAD_SIZE:
        return [message]
    head = bytearray(message[:12])
    if mark_truncated:
        head[2] |= MessageFlag.TC
    tail = message[16:20]
    return [
        bytes(head) + seq.to_bytes(4, "big") + tail + message[start : start + UDP_PAYLOAD_SIZE]
        for seq, start in enumerate(range(ENVELOPE_SIZE, len(message), UDP_PAYLOAD_SIZE))
    ]


@dataclass(slots=True)
class _Partial:
    started: float
    length: int
    count: int
    head: bytes
    chunks: dict[int, bytes] = field(default_factory=dict)


def _host(peer: Hashable) -> Hashable:
    """Who sent a packet: a socket address's host, else the peer as given."""
    return peer[0] if isinstance(peer, tuple) else peer


class UdpReassembler:
    """Collects the packets of multi-packet UDP messages until each is whole.

    Packets may come in any order and more than once; a message whose packets stop coming is
    dropped after ``timeout`` seconds. At most ``max_pending`` messages and ``max_bytes`` of
    packet data are held: past either, the oldest partial messages are dropped. One host
    (the address of a ``(host, port)`` peer) holds at most ``max_per_host`` of them; past
    that, its new messages are not taken until one completes or expires (dropping its oldest
    instead let the late packets of each dropped message push out the next, and none
    completed): otherwise first packets from many ports of one host pushed out everyone
    else's messages. Messages are told apart by peer, session id and request id. The clock
    is passed in (``now``).
    """

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        max_pending: int = 256,
        max_per_host: int = 16,
        max_bytes: int = 4 * 1024 * 1024,
        max_length: int = MAX_MESSAGE_LENGTH,
    ) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self._held = HeldPerHost(max_per_host)
        self.max_bytes = max_bytes
        self.max_length = max_length
        self._pending: dict[tuple[Hashable, int, int], _Partial] = {}
        self._bytes = 0

    @property
    def max_per_host(self) -> int:
        return self._held.per_host

    def __len__(self) -> int:
        """Partial messages held."""
        return len(self._pending)

    def add(self, packet: bytes, peer: Hashable, now: float) -> bytes | None:
        """Take one datagram; return the whole message (envelope and all its bytes, ready for
        ``decode_message``) once its last missing packet is here, else None.

        :raises ProtocolError: for a packet that cannot belong to any message: a bad
            envelope, a sequence number or size that does not fit the declared length, or a
            length that disagrees with the message's earlier packets.
        """
        envelope, length = decode_envelope(packet)
        if length > self.max_length:
            raise ProtocolError(f"message length {length} exceeds the limit of {self.max_length}")
        count = max(1, -(-length // UDP_PAYLOAD_SIZE))
        seq = envelope.sequence
        if seq >= count:
            raise ProtocolError(f"packet {seq} of a message of {count} packets")
        size = len(packet) - ENVELOPE_SIZE
        expected = UDP_PAYLOAD_SIZE if seq < count - 1 else length - UDP_PAYLOAD_SIZE * seq
        if size != expected:
            raise ProtocolError(f"packet {seq} carries {size} bytes, not {expected}")
        if count == 1:
            return packet
        self._expire(now)
        key = (peer, envelope.session_id, envelope.request_id)
        partial = self._pending.get(key)
        if partial is None:
            if not self._held.admit(_host(peer)):
                return None  # the sender retries, or asks over TCP
            partial = self._pending[key] = _Partial(now, length, count, packet[:12])
        elif partial.length != length:
            raise ProtocolError("packets of one message disagree on its length")
        if seq in partial.chunks:
            return None
        partial.chunks[seq] = packet[ENVELOPE_SIZE:]
        self._bytes += size
        if len(partial.chunks) < count:
            self._evict(keep=key)
            return None
        self._drop(key)
        body = b"".join(partial.chunks[i] for i in range(count))
        return partial.head + bytes(4) + length.to_bytes(4, "big") + body

    def _drop(self, key: tuple[Hashable, int, int]) -> None:
        partial = self._pending.pop(key)
        self._bytes -= sum(len(c) for c in partial.chunks.values())
        self._held.leave(_host(key[0]))

    def _expire(self, now: float) -> None:
        """Drop messages older than the timeout (the dict is oldest first)."""
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if now - oldest.started < self.timeout:
                return
            self._drop(key)

    def _evict(self, keep: tuple[Hashable, int, int]) -> None:
        """Drop the oldest other messages while over either limit."""
        for key in list(self._pending):
            if len(self._pending) <= self.max_pending and self._bytes <= self.max_bytes:
                return
            if key != keep:
                self._drop(key)
