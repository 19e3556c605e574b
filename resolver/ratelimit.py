"""Per-client limits: a token bucket for each client address, so a flood from one address
is slowed without slowing anyone else (and :class:`HeldPerHost`, what one host may hold at
once). No I/O; the clock is passed in.

Each address gets ``burst`` requests at once and ``rate`` more per second. The buckets of
at most ``max_clients`` addresses are kept, the least recently seen forgotten first (a
forgotten address starts again with a full bucket, which is what a new one gets anyway).
Addresses in ``exempt`` networks (a node's own resolvers or monitoring) are never limited.
Every face asks the same limiter: HTTP answers 429 with ``Retry-After``, the Handle and DNS
faces drop UDP requests over the limit (answering a flood would amplify it) and answer TCP
ones with "too busy".
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass


class HeldPerHost:
    """What each client host holds at once (connections, half-received messages): at most
    ``per_host``, so one host cannot take what every other needs too."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self.refused = 0
        self._held: dict[Hashable, int] = {}

    def admit(self, host: Hashable) -> bool:
        """Count one more for ``host``; False (and not counted) past the limit."""
        held = self._held.get(host, 0)
        if held >= self.per_host:
            self.refused += 1
            return False
        self._held[host] = held + 1
        return True

    def leave(self, host: Hashable) -> None:
        """Count one fewer for ``host`` (one :meth:`admit` took)."""
        held = self._held[host] - 1
        if held:
            self._held[host] = held
        else:
            del self._held[host]


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Config section ``[ratelimit]``."""

    requests_per_second: int = 0
    burst: int = 0
    max_clients: int = 100_000
    exempt: tuple[str, ...] = ()


@dataclass
class RateLimitStats:
    limited: int = 0


class RateLimiter:
    """Token buckets by client address."""

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        max_clients: int = 100_000,
        exempt: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """:raises ValueError: a non-positive rate, or an exempt entry that is no network."""
        if rate <= 0:
            raise ValueError("a rate limit needs a positive rate")
        self.rate = float(rate)
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self.exempt = tuple(ipaddress.ip_network(e, strict=False) for e in exempt)
        self.clock = clock
        self.stats = RateLimitStats()
        #: address -> (tokens left, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._exempt_seen: dict[str, bool] = {}

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> RateLimiter | None:
        """The limiter a configuration asks for, or None when limits are off (rate 0)."""
        if settings.requests_per_second <= 0:
            return None
        burst = settings.burst or 2 * settings.requests_per_second
        return cls(
            settings.requests_per_second,
            burst,
            max_clients=settings.max_clients,
            exempt=settings.exempt,
        )

    def _is_exempt(self, address: str) -> bool:
        known = self._exempt_seen.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                known = False
            else:
                known = any(ip in net for net in self.exempt)
            if len(self._exempt_seen) >= self.max_clients:
                self._exempt_seen.clear()
            self._exempt_seen[address] = known
        return known

    def wait(self, address: str) -> float:
        """0 if a request from ``address`` may go ahead now (it is counted), else how many
        seconds until it may."""
        if self.exempt and self._is_exempt(address):
            return 0.0
        now = self.clock()
        tokens, then = self._buckets.pop(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[address] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[address] = (tokens, now)
            self.stats.limited += 1
            wait = (1.0 - tokens) / self.rate
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
