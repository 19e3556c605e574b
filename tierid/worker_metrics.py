"""``/metrics`` of a node run as several worker processes on one port (``[http] workers``).

The kernel hands each connection, a Prometheus scrape included, to any one of them, and
each keeps its own counters: scrapes landing on different workers made every counter jump
back and forth, which Prometheus takes for restarts. So each worker keeps its figures in a
file of a folder they share (written on every scrape it serves, and every second), and a
scrape adds up the counters of all the files; a gauge (a cache's size, a server's latency)
is shown once per worker, labelled with its process id.

A counter read from a file is never less than it was at the last scrape: each file only
ever grows, and the worker serving a scrape writes its own first. The folder is emptied
when the workers start (``tierid serve``), so a node's counters start again from zero when
it restarts, as a single process's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from tierid.metrics import Family

log = logging.getLogger("tierid.metrics")

#: how often a worker writes its figures when no scrape asks (seconds)
PUBLISH_INTERVAL_S = 1.0


def folder_of(data_dir: Path) -> Path:
    """Where the workers of the node keeping its data in ``data_dir`` keep their figures."""
    return data_dir / "worker-metrics"


def clear(data_dir: Path) -> None:
    """Forget the figures of an earlier run (before the workers start)."""
    folder = folder_of(data_dir)
    for path in folder.glob("*.json") if folder.is_dir() else ():
        path.unlink(missing_ok=True)


class WorkerMetrics:
    def __init__(self, folder: Path, own: Callable[[], list[Family]]) -> None:
        """``folder``: shared by the node's workers; ``own``: this worker's figures."""
        self.folder = folder
        self.own = own
        self.path = folder / f"{os.getpid()}.json"

    def publish(self) -> None:
        """Write this worker's figures (atomically: a reader never sees half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        families = [[f.name, f.kind, f.help, f.samples] for f in self.own()]
        tmp.write_text(json.dumps(families), encoding="utf-8")
        os.replace(tmp, self.path)

    async def run(self) -> None:
        """Publish every :data:`PUBLISH_INTERVAL_S` until cancelled."""
        while True:
            self._publish_or_log()
            await asyncio.sleep(PUBLISH_INTERVAL_S)

    def _publish_or_log(self) -> None:
        try:
            self.publish()
        except OSError as exc:  # a full disk must not stop the figures, nor the scrapes
            log.warning("cannot write this worker's figures to %s: %s", self.path, exc)

    def combined(self) -> list[Family]:
        """Every worker's figures: counters added up, gauges one per worker."""
        self._publish_or_log()
        heads: dict[str, tuple[str, str]] = {}
        samples: dict[str, list[tuple[str, float]]] = {}
        for path in sorted(self.folder.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):
                worker = path.stem
                for name, kind, help_, got in json.loads(path.read_text("utf-8")):
                    heads.setdefault(name, (kind, help_))
                    into = samples.setdefault(name, [])
                    if kind == "counter":
                        _add(into, got)
                    else:
                        into.extend((_labelled(ls, worker), v) for ls, v in got)
        return [Family(name, *heads[name], samples[name]) for name in heads]


def _add(into: list[tuple[str, float]], samples: list[list]) -> None:
    """Add ``samples`` to the same label sets in ``into`` (new label sets appended)."""
    at = {labels: i for i, (labels, _) in enumerate(into)}
    for labels, value in samples:
        if labels in at:
            into[at[labels]] = (labels, into[at[labels]][1] + value)
        else:
            at[labels] = len(into)
            into.append((labels, value))


def _labelled(labels: str, worker: str) -> str:
    """``labels`` (``""`` or ``{a="b"}``) with ``worker="<pid>"`` first."""
    return f'{{worker="{worker}"' + (f",{labels[1:]}" if labels else "}")
