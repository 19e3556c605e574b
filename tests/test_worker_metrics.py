"""Adding up the figures of a node's worker processes (``tierid/worker_metrics.py``): what
one worker wrote, what another did, and a file that cannot be read."""

from __future__ import annotations

from pathlib import Path

from tierid.metrics import Family
from tierid.worker_metrics import WorkerMetrics


def test_counters_add_up_gauges_stay_apart_and_bad_files_are_skipped(tmp_path: Path) -> None:
    def figures(requests: int, hits: int, entries: int) -> list[Family]:
        return [
            Family("t_requests_total", "counter", "r", [("", requests)]),
            Family("t_hits_total", "counter", "h", [('{level="l1"}', hits)]),
            Family("t_entries", "gauge", "e", [('{level="l1"}', entries)]),
        ]

    other = WorkerMetrics(tmp_path, lambda: figures(5, 2, 7))
    other.path = tmp_path / "111.json"
    other.publish()
    (tmp_path / "222.json").write_text("{not json")  # a worker killed mid-write, say
    mine = WorkerMetrics(tmp_path, lambda: figures(10, 3, 4))
    mine.path = tmp_path / "333.json"
    got = {f.name: (f.kind, f.samples) for f in mine.combined()}
    assert got["t_requests_total"] == ("counter", [("", 15)])
    assert got["t_hits_total"] == ("counter", [('{level="l1"}', 5)])
    assert got["t_entries"] == (
        "gauge",
        [('{worker="111",level="l1"}', 7), ('{worker="333",level="l1"}', 4)],
    )
