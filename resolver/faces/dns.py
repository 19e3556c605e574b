"""The DNS face: identifiers answered over DNS, from the same resolver and caches as HTTP.

The face is authoritative for one zone (``[dns] zone``). A name under it is an identifier's
name (:mod:`resolver.dns_names`); its NAPTR, URI and TXT data come from the record's public
values (:mod:`resolver.faces.dns_records`), found by the same walk and caches as every other
face; a GS1 key's name (``gtin.<zone>``) answers with the record bound to the GTIN
(:mod:`resolver.gs1.bindings`). The zone apex has SOA and NS, and the name server's own name
(when inside the zone) its address.

Answers follow what stock resolvers expect: AA set, RA clear; an unknown identifier is
NXDOMAIN with the SOA in the authority section (its minimum and TTL are the negative-cache
lifetime, RFC 2308), a name with no data of the asked type is NOERROR with the SOA;
other zones and classes are REFUSED, other opcodes NOTIMP, EDNS versions above 0 BADVERS,
malformed queries FORMERR (or dropped when not even the header is whole). ANY is answered
minimally with the NAPTR set (RFC 8482). A UDP answer never exceeds 512 bytes, or the
client's EDNS size capped by ``max_udp_payload``; a larger one is truncated (TC set) so the
client retries over TCP. Stale answers carry Extended DNS Error 3 (RFC 8914), and errors an
EDE with their message.

Parsing and building go through dnspython; repeated questions are answered from stored wire
bytes (:mod:`resolver.dns_hot`).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.ANY.NS import NS
from dns.rdtypes.ANY.SOA import SOA
from dns.rdtypes.IN.A import A
from dns.rdtypes.IN.AAAA import AAAA

from resolver.dns_hot import HotAnswers
from resolver.dns_names import gtin_of, handle_for, name_for
from resolver.errors import (
    HandleNotFound,
    InvalidHandle,
    NotResponsible,
    TieridError,
    dns_rcode,
)
from resolver.faces import dns_records
from resolver.faces.sockets import (
    FaceTasks,
    HotUdpProtocol,
    IdleClosingProtocol,
    Listeners,
)
from resolver.gs1.bindings import Gs1Resolver
from resolver.gs1.keys import Gs1Key
from resolver.handle import normalise
from resolver.message import Answer, Query
from resolver.ratelimit import HeldPerHost, RateLimiter
from resolver.values import lifetime

log = logging.getLogger("tierid.dns")

Resolve = Callable[[Query], Awaitable[Answer]]

IN = dns.rdataclass.IN
#: longest TTL given to data that did not come from a cache (an authority's own records)
MAX_TTL = 86400
#: TTL of the zone's own SOA, NS and address records
ZONE_TTL = 3600
_HEADER = 12
_TCP_MAX_PENDING = 64
#: question types that ask for a whole zone (RFC 5936, 1995)
_TRANSFERS = frozenset((dns.rdatatype.AXFR, dns.rdatatype.IXFR))
#: types that are never a question: records of a message's own machinery, and type 0
_NEVER_ASKED = frozenset((dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY, 0))


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """Config section ``[dns]``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 5300
    zone: str = "id.tierid.test."
    nameserver: str = "ns.id.tierid.test."
    nameserver_address: str = "127.0.0.1"
    negative_ttl: int = 30
    max_udp_payload: int = 1232
    max_pending: int = 2000
    tcp_per_client: int = 64
    tcp_idle_timeout_s: int = 10
    hot_answers: int = 100_000


@dataclass
class DnsStats:
    """Counters of the full path; answers from stored bytes are counted by the store."""

    queries: int = 0
    truncated: int = 0
    dropped: int = 0
    malformed: int = 0
    refused: int = 0
    errors: int = 0


class Responder:
    """Turns a query's wire bytes into the response's, answering from ``resolve``."""

    def __init__(
        self,
        resolve: Resolve,
        settings: DnsSettings,
        stats: DnsStats,
        gs1: Gs1Resolver,
    ) -> None:
        self.resolve = resolve
        self.gs1 = gs1
        self.settings = settings
        self.stats = stats
        self.zone = dns.name.from_text(settings.zone)
        self.nameserver = dns.name.from_text(settings.nameserver)
        self.hot = HotAnswers(settings.hot_answers, settings.max_udp_payload)
        address = ipaddress.ip_address(settings.nameserver_address)
        address_type = dns.rdatatype.A if address.version == 4 else dns.rdatatype.AAAA
        self._address = (
            address_type,
            (A if address.version == 4 else AAAA)(IN, address_type, str(address)),
        )
        self._soa = SOA(
            IN,
            dns.rdatatype.SOA,
            self.nameserver,
            dns.name.Name((b"hostmaster",) + self.zone.labels),
            int(time.time()) & 0x7FFFFFFF,
            ZONE_TTL,
            ZONE_TTL // 6,
            14 * 86400,
            settings.negative_ttl,
        )

    def _limit(self, query: dns.message.Message, tcp: bool) -> int:
        if tcp:
            return 65535
        if query.edns < 0:
            return 512
        return max(512, min(query.payload, self.settings.max_udp_payload))

    async def respond(self, wire: bytes, *, tcp: bool = False) -> bytes | None:
        """The response to send, or None to send nothing (not a query at all)."""
        self.stats.queries += 1
        try:
            query = dns.message.from_wire(wire)
        except dns.message.ShortHeader:
            self.stats.malformed += 1
            return None
        except Exception:  # every way dnspython can reject a packet
            self.stats.malformed += 1
            return _bare_reply(wire, dns.rcode.FORMERR)
        if query.flags & dns.flags.QR:
            return None
        response = dns.message.make_response(
            query, our_payload=self.settings.max_udp_payload, pad=0
        )
        if query.ednsflags & dns.flags.DO:
            response.ednsflags |= dns.flags.DO
        cache_for = None
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
        elif len(query.question) != 1:
            self.stats.malformed += 1
            response.set_rcode(dns.rcode.FORMERR)
        elif query.edns > 0:
            response.use_edns(0, response.ednsflags, self.settings.max_udp_payload)
            response.set_rcode(dns.rcode.BADVERS)
        else:
            cache_for = await self._answer(query.question[0], response)
        try:
            out = response.to_wire(max_size=self._limit(query, tcp), prefer_truncation=True)
        except dns.exception.TooBig:
            out = _header_only(wire, dns.rcode.SERVFAIL)
        if (out[2] << 8) & dns.flags.TC:
            self.stats.truncated += 1
        elif cache_for is not None:
            self.hot.store(wire, out, *cache_for)
        return out

    async def _answer(
        self, question: dns.rrset.RRset, response: dns.message.Message
    ) -> tuple[str, float] | None:
        """Fill ``response``. :returns: the cache key and lifetime when it may be reused."""
        qname, rdtype = question.name, question.rdtype
        if question.rdclass != IN or not qname.is_subdomain(self.zone) or rdtype in _TRANSFERS:
            self.stats.refused += 1  # not ours, or a zone transfer (none is offered)
            response.set_rcode(dns.rcode.REFUSED)
            return None
        if rdtype in _NEVER_ASKED:
            self.stats.malformed += 1
            response.set_rcode(dns.rcode.FORMERR)
            return None
        response.flags |= dns.flags.AA
        if qname == self.zone or qname == self.nameserver:
            self._zone_data(qname, rdtype, response)
            return None
        try:
            handle, answer = await self._lookup(qname)
        except (InvalidHandle, HandleNotFound, NotResponsible):  # no prefix, no such name
            self._negative(response, dns.rcode.NXDOMAIN)
            return None
        except TieridError as err:
            self.stats.errors += 1
            response.set_rcode(dns.rcode.from_text(dns_rcode(err.rc)))
            self._extended_error(response, dns.edns.EDECode.OTHER, err.message)
            return None
        if rdtype == dns.rdatatype.ANY:
            rdtype = dns.rdatatype.NAPTR
        data = []
        if rdtype in dns_records.TYPES:
            data = dns_records.rdatas(rdtype, answer.values, self._alias_name)
        if answer.cache_ttl is not None:
            ttl = answer.cache_ttl
        else:
            ttl = lifetime(answer.values, time.time(), MAX_TTL)
        if data:
            rrset = response.find_rrset(response.answer, qname, IN, rdtype, create=True)
            for rd in data:
                rrset.add(rd, int(ttl))
        else:
            self._negative(response, dns.rcode.NOERROR)
        if answer.stale:
            self._extended_error(response, dns.edns.EDECode.STALE_ANSWER)
            return None
        return (normalise(handle), ttl) if answer.cache_ttl is not None else None

    async def _lookup(self, qname: dns.name.Name) -> tuple[str, Answer]:
        """The identifier a name stands for (a GS1 key's: the record bound to it) and its
        answer. :raises InvalidHandle: the name stands for nothing."""
        gtin = gtin_of(qname, self.zone)
        if gtin is None:
            handle = handle_for(qname, self.zone)
            return handle, await self.resolve(Query(handle))
        bound = await self.gs1.resolve_key(Gs1Key("01", gtin), aliases=False)
        return bound.handle, bound.answer

    def _zone_data(self, qname: dns.name.Name, rdtype: int, response: dns.message.Message) -> None:
        if qname == self.zone and rdtype in (dns.rdatatype.SOA, dns.rdatatype.ANY):
            rdata, rdtype = self._soa, dns.rdatatype.SOA
        elif qname == self.zone and rdtype == dns.rdatatype.NS:
            rdata = NS(IN, dns.rdatatype.NS, self.nameserver)
        elif qname == self.nameserver and rdtype in (self._address[0], dns.rdatatype.ANY):
            rdtype, rdata = self._address
        else:
            self._negative(response, dns.rcode.NOERROR)
            return
        rrset = response.find_rrset(response.answer, qname, IN, rdtype, create=True)
        rrset.add(rdata, ZONE_TTL)

    def _negative(self, response: dns.message.Message, rcode: dns.rcode.Rcode) -> None:
        """NXDOMAIN or NODATA: the SOA goes in the authority section (RFC 2308)."""
        response.set_rcode(rcode)
        soa = response.find_rrset(response.authority, self.zone, IN, dns.rdatatype.SOA, create=True)
        soa.add(self._soa, self.settings.negative_ttl)

    def _alias_name(self, target: str) -> dns.name.Name | None:
        try:
            return name_for(target, self.zone)
        except InvalidHandle:
            return None

    @staticmethod
    def _extended_error(
        response: dns.message.Message, code: dns.edns.EDECode, text: str | None = None
    ) -> None:
        if response.edns >= 0:
            option = dns.edns.EDEOption(code, text[:200] if text else None)
            response.use_edns(
                0, response.ednsflags, response.payload, options=[*response.options, option]
            )


def _header_only(wire: bytes, rcode: int) -> bytes:
    """A bare response header: the query's id and opcode, no sections."""
    flags = 0x80 | (wire[2] & 0x79)
    return wire[:2] + bytes((flags, rcode & 0x0F)) + bytes(8)


def _bare_reply(wire: bytes, rcode: int) -> bytes | None:
    """A header-only reply (FORMERR for a malformed query, REFUSED for a client over its
    rate limit), or None when ``wire`` is not even a query's header."""
    if len(wire) < _HEADER or wire[2] & 0x80:
        return None
    return _header_only(wire, rcode)


class _UdpProtocol(HotUdpProtocol):
    def __init__(self, face: DnsFace) -> None:
        super().__init__(face.responder.hot.answer, face.limiter, log)
        self.face = face

    def full(self, data: bytes, addr: tuple) -> None:
        self.face.spawn(self._full(data, addr))

    async def _full(self, data: bytes, addr: tuple) -> None:
        out = await self.face.responder.respond(data)
        if out is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(out, addr)


class _TcpProtocol(IdleClosingProtocol):
    """Length-prefixed messages (RFC 7766): several per connection, answered as they are
    ready; the connection closes after ``tcp_idle_timeout_s`` without a query."""

    def __init__(self, face: DnsFace) -> None:
        super().__init__(face.settings.tcp_idle_timeout_s, face.tcp_clients)
        self.face = face
        self.buffer = b""
        self.pending = 0

    def backlog_full(self) -> bool:
        return self.pending >= _TCP_MAX_PENDING

    def resume_writing(self) -> None:
        super().resume_writing()
        self.data_received(b"")  # the queries left unanswered while the client did not read

    def data_received(self, data: bytes) -> None:
        if not self.buffer:  # a query starts: it has the idle timeout to arrive whole
            self.touch()
        self.buffer += data
        while len(self.buffer) >= 2 and not self.writing_paused:
            size = self.buffer[0] << 8 | self.buffer[1]
            if len(self.buffer) < 2 + size:
                break
            message, self.buffer = self.buffer[2 : 2 + size], self.buffer[2 + size :]
            self.touch()
            if self._over_limit():
                refused = _bare_reply(message, dns.rcode.REFUSED)
                if refused is not None:
                    self._send(refused)
                continue
            out = self.face.responder.hot.answer(message, tcp=True)
            if out is not None:
                self._send(out)
            else:
                self.pending += 1
                self.pause_reading_if_full()
                self.face.spawn(self._full(message), bounded=False)

    def _over_limit(self) -> bool:
        limiter = self.face.limiter
        if limiter is None or self.transport is None:
            return False
        return bool(limiter.wait(self.transport.get_extra_info("peername")[0]))

    async def _full(self, message: bytes) -> None:
        try:
            out = await self.face.responder.respond(message, tcp=True)
        finally:
            self.pending -= 1
            self.resume_reading()
        if out is not None:  # None: not a question (a response, too short): dropped, as on
            self._send(out)  # UDP, and the connection's other questions still answered

    def _send(self, out: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(len(out).to_bytes(2, "big") + out)


class DnsFace:
    """The UDP and TCP listeners; open and close them with the app."""

    def __init__(
        self,
        resolve: Resolve,
        settings: DnsSettings,
        *,
        gs1: Gs1Resolver,
        reuse_port: bool = False,
        limiter: RateLimiter | None = None,
    ) -> None:
        """``limiter`` holds back clients over their rate: UDP queries are dropped, TCP
        ones answered REFUSED."""
        self.limiter = limiter
        self.settings = settings
        self.stats = DnsStats()
        self.responder = Responder(resolve, settings, self.stats, gs1)
        self.listeners = Listeners(
            settings.host,
            settings.port,
            lambda: _UdpProtocol(self),
            lambda: _TcpProtocol(self),
            reuse_port=reuse_port,
        )
        self.tasks = FaceTasks(settings.max_pending, log, "DNS query")
        self.tcp_clients = HeldPerHost(settings.tcp_per_client)

    def counters(self) -> dict[str, int]:
        """Every counter, queries answered from stored bytes included."""
        hot = self.responder.hot.hits
        counts = asdict(self.stats)
        counts["queries"] += hot
        counts["errors"] += self.tasks.errors
        return {**counts, "hot_answers": hot, "tcp_refused": self.tcp_clients.refused}

    def drop(self, key: str | None) -> None:
        """Forget stored answers built from a cache key (a cache drop listener)."""
        self.responder.hot.drop(key)

    def spawn(self, work: Awaitable[None], *, bounded: bool = True) -> None:
        """Run a full-path answer (see :class:`FaceTasks`: UDP queries beyond
        ``max_pending`` at once are dropped)."""
        if not self.tasks.spawn(work, bounded=bounded):
            self.stats.dropped += 1

    async def open(self) -> None:
        await self.listeners.open()

    async def close(self) -> None:
        await self.listeners.close()
        await self.tasks.cancel()
