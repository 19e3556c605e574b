"""``tierid import FILE``: bulk registration from CSV or JSON Lines (``tierid.importer``)."""

from __future__ import annotations

import contextlib
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from registry.authority import RecordLimits
from registry.batch import MAX_ITEMS, Op
from registry.storage.sqlite import SQLiteStore
from tierid.commands.common import node_client, run
from tierid.importer import (
    Checkpoint,
    Import,
    NodeSink,
    Sink,
    StoreSink,
    Summary,
    bulk_gc,
)
from tierid.rows import FORMATS, format_of

if TYPE_CHECKING:
    from resolver.http_client import HandleHttpClient

STORE_BATCH, NODE_BATCH = 5000, 1000
#: files from this size on are planned by a second process (``tierid.import_planner``)
#: when they go into a store; below it, starting that process costs more than it saves
PLANNER_MIN_BYTES = 1 << 20


def _operator() -> str:
    """Who a local import is recorded as in the change log."""
    try:
        return f"import:{getpass.getuser()}"
    except (KeyError, OSError):
        return "import:local"


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="File format (default: from the name: .csv, .jsonl or .ndjson).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Write straight into the store of the node this configuration describes.",
)
@click.option(
    "--store",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Write straight into this SQLite store (default limits).",
)
@node_client
@click.option(
    "--no-overwrite",
    is_flag=True,
    help="Reject rows whose identifier exists with other values (default: replace them).",
)
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Per-row results, CSV (default: FILE.results.csv).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    help=f"Rows per transaction (default {STORE_BATCH} into a store, {NODE_BATCH} through a "
    f"node, which takes at most {MAX_ITEMS}).",
)
@click.option(
    "--restart", is_flag=True, help="Ignore an earlier run's checkpoint; check every row."
)
@click.option(
    "--template",
    metavar="NAME/VERSION",
    help="Register every row against this published template of its prefix "
    "(<prefix>/TEMPLATE/NAME/VERSION); rows that break it are rejected.",
)
@click.option(
    "--prefix-records",
    is_flag=True,
    help="Also write prefix records (0.NA/...), e.g. a province's enterprises; without it "
    "such rows are rejected, as one stray row would replace a prefix's admin values.",
)
def import_(
    file: Path,
    fmt: str | None,
    config_path: Path | None,
    store: Path | None,
    client: HandleHttpClient,
    no_overwrite: bool,
    results: Path | None,
    batch_size: int | None,
    restart: bool,
    template: str | None,
    prefix_records: bool,
) -> None:
    """Register the identifiers in FILE, one per row or line.

    \b
    CSV:        handle,index,type,data[,index,type,data ...]
                88.118.8/P-1,1,URL,https://pumps.example/p/1,2000,MODEL,CP-200
                (string data; empty groups are ignored; a first row starting with
                "handle" is a header; quoted fields may span lines)
    JSON Lines: {"handle": "88.118.8/P-1", "values": [{"index": 1, "type": "URL",
                "data": "https://pumps.example/p/1"}]}  (values as PUT /api/handles takes)

    Each identifier is created, replaced (unless --no-overwrite), skipped when it already
    holds exactly these values, or rejected with the reason; FILE.results.csv says which,
    row by row. With --config or --store the rows go straight into the node's SQLite store
    (fastest: files of 1 MiB and more are read and checked by a second process while this
    one writes; the node may keep running), through the same checks and change log as every
    write, as a server admin; otherwise through --node's batch API as --auth.

    Running the same command again after Ctrl-C or a kill goes on where the import stopped,
    without duplicates or gaps; after a complete import it changes nothing and says so.
    """
    fmt = fmt or format_of(file)
    if fmt is None:
        raise click.UsageError("cannot tell the format from the file name; give --format")
    if config_path and store:
        raise click.UsageError("--config and --store exclude each other")
    results = results or file.with_name(file.name + ".results.csv")
    if results.exists() and results.samefile(file):
        raise click.UsageError("--results names the file being imported")
    op: Op = "create" if no_overwrite else "upsert"
    name, sep, version = (template or "").partition("/")
    if template and (not sep or not name or not version or "/" in version):
        raise click.UsageError("--template is NAME/VERSION, e.g. pump/2")

    def job(size: int, max_data_bytes: int) -> Import:
        return Import(
            file,
            fmt,
            op,
            results,
            batch_size=size,
            max_data_bytes=max_data_bytes,
            template=(name, version) if template else None,
            prefix_records=prefix_records,
        )

    go: Awaitable[Summary]
    if config_path or store:
        planner = file.stat().st_size >= PLANNER_MIN_BYTES
        go = _into_store(job, config_path, store, batch_size or STORE_BATCH, restart, planner)
    else:
        size = batch_size or NODE_BATCH
        if size > MAX_ITEMS:
            raise click.UsageError(f"a node takes at most {MAX_ITEMS} rows per batch")
        state = results.with_name(results.name + ".checkpoint")
        # value sizes are checked by the node, against its own limits
        go = _through_node(job(size, 1 << 31), NodeSink(client, state), client, restart)
    try:
        with bulk_gc():
            summary = run(go)
    except KeyboardInterrupt:
        click.echo("interrupted: run the same command again to go on where it stopped", err=True)
        sys.exit(130)
    _print_summary(file, results, summary)


async def _into_store(
    job: Callable[[int, int], Import],
    config_path: Path | None,
    store_path: Path | None,
    size: int,
    restart: bool,
    planner: bool,
) -> Summary:
    """Into the store of the node ``config_path`` describes (its limits, and its shared
    cache told of every change, as the node's own writes tell it), or into ``store_path``
    (default limits); with ``planner``, on two cores."""
    limits, keep, shared = RecordLimits(), 0, None
    if config_path is not None:
        from tierid import config as config_mod  # the node's modules, only for its store
        from tierid.app import shared_cache

        config = config_mod.load(config_path)
        store_path, limits = config.storage_path, config.limits
        keep, shared = config.node.changelog_keep, shared_cache(config)
    assert store_path is not None
    from registry.mirror import SEQ_KEY  # where a mirror keeps its place in the primary's log

    async with contextlib.AsyncExitStack() as stack:
        store = SQLiteStore(store_path, changelog_keep=keep)
        await store.open()
        stack.push_async_callback(store.close)
        if await store.read(lambda txn: txn.get_meta(SEQ_KEY)) is not None:
            raise click.UsageError(  # its records would differ from its primary's for good
                f"{store_path} is a mirror's copy; import into its primary"
            )
        if shared is not None:
            await shared.open()
            stack.push_async_callback(shared.close)
        notify = shared.invalidate if shared is not None else None
        sink = StoreSink(store, limits, _operator(), notify, planner=planner)
        return await _with_progress(job(size, limits.max_value_bytes), sink, restart)


async def _through_node(
    job: Import, sink: NodeSink, client: HandleHttpClient, restart: bool
) -> Summary:
    async with client:
        return await _with_progress(job, sink, restart)


async def _with_progress(job: Import, sink: Sink, restart: bool) -> Summary:
    """Run the import under a progress bar on stderr (share of the file's bytes, rows and
    rows per second of this run, time left), shown once there is something to import."""
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:>11,} rows  {task.fields[rate]:>8,.0f} rows/s"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        refresh_per_second=2,  # the refresh thread takes the GIL from the import
    )
    task = progress.add_task("import", total=job.reading.path.stat().st_size, rows=0, rate=0.0)
    started = time.monotonic()

    def show(checkpoint: Checkpoint, run_rows: int) -> None:
        if run_rows == 0:  # where this run starts: no speed yet
            progress.reset(task, completed=checkpoint.offset, rows=checkpoint.rows, rate=0.0)
            progress.start()
            return
        rate = run_rows / max(time.monotonic() - started, 1e-6)
        progress.update(task, completed=checkpoint.offset, rows=checkpoint.rows, rate=rate)

    try:
        return await job.run(sink, restart=restart, progress=show)
    finally:
        progress.stop()


def _print_summary(file: Path, results: Path, summary: Summary) -> None:
    whole = summary.checkpoint
    if summary.already_done:
        click.echo(
            f"{file}: already imported ({whole.rows:,} rows); nothing to do, nothing changed "
            "(--restart checks every row again)"
        )
        return
    c = whole.counts
    line = (
        f"{file}: {whole.rows:,} rows: {c['created']:,} created, {c['replaced']:,} replaced, "
        f"{c['skipped']:,} skipped (unchanged), {c['rejected']:,} rejected"
    )
    if summary.resumed_from:
        run_rows = sum(summary.this_run.values())
        line += f"; resumed after line {summary.resumed_from:,}, {run_rows:,} rows this run"
    if summary.changed == 0:
        line += "; nothing changed"
    click.echo(line)
    click.echo(f"results: {results}")
    if summary.results_short:
        click.echo("warning: the results file had lost lines of an earlier run", err=True)
