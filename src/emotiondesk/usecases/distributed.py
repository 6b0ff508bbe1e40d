"""The Ray engine: score archives with Ray Data and an actor pool (``pip install emotiondesk[ray]``).

Ray is imported here only, when a command asks for ``--engine ray``. Each
actor loads the model pack once and runs :func:`~emotiondesk.usecases.scoring.score_batch`
on the batches Ray Data hands it, so a Ray run gives the local engine's
numbers. ``address`` points at an existing cluster (``ray://host:10001``
or ``host:6379``); without one a local Ray is started for the run and
stopped after it. The cluster's nodes need emotiondesk (with the ``ray``
extra) installed, and a pack given as a directory must be at the same path
on every node (the shipped pack always is).

Example:
    >>> score_file_ray("reviews.parquet", "scored.parquet", workers=4)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emotiondesk.errors import ConfigError, DataError
from emotiondesk.usecases.score_files import (
    ScoreReport,
    append_analysis,
    csv_header,
    input_format,
    open_source,
    output_format,
)
from emotiondesk.usecases.scoring import check_no_clash, resolve_text_column, score_batch

if TYPE_CHECKING:
    import pyarrow as pa

    from emotiondesk.analyzer import Analyzer

logger = logging.getLogger(__name__)


def import_ray() -> Any:
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(
            "the Ray engine needs Ray: pip install 'emotiondesk[ray]' (or use --engine local)"
        ) from None
    return ray


@contextmanager
def ray_session(address: str | None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Connected to the cluster at ``address``, or to a local Ray started (and stopped) for the run."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        # "local" starts a new Ray even where `ray start` left a cluster address behind
        kwargs["address"] = address or os.environ.get("RAY_ADDRESS") or "local"
        if kwargs["address"] == "local" and num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()


def actor_cpus(ray: Any, workers: int) -> float:
    """The CPUs each of ``workers`` actors asks for: one, or less where the cluster is small.

    Ray Data's read, list and write tasks each need a CPU of the cluster too; a
    pool that reserved every CPU would leave them none and wait for ever (as
    2 actors on a 2-CPU machine do). The actors then ask for a share that leaves
    one CPU free; each still runs in its own process at full speed.
    """
    total = float(ray.cluster_resources().get("CPU", 1.0))
    if workers > total:
        logger.warning("%d actors on a cluster of %g CPUs: they will share cores", workers, total)
    return min(1.0, max(0.05, (total - 1.0) / workers))


def pack_version(pack: str | Path | None) -> str:
    """The ``name-version`` an analyzer of ``pack`` reports (read without loading the models)."""
    from emotiondesk.pack import default_pack_dir, read_pack

    spec = read_pack(default_pack_dir() if pack in (None, "default") else Path(str(pack)))
    return f"{spec.name}-{spec.version}"


def _pack_arg(pack: str | Path | None) -> str | None:
    if pack in (None, "default"):
        return None
    return str(Path(str(pack)).resolve())


class ScoreActor:
    """A Ray Data callable class: the pack is loaded once per actor, then batch after batch."""

    def __init__(
        self, pack: str | None, text_col: str, prefix: str = "", max_chars: int | None = None
    ) -> None:
        from emotiondesk.analyzer import load_analyzer

        self.analyzer = load_analyzer(pack, max_chars=max_chars)
        self.text_col = text_col
        self.prefix = prefix

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = batch.column(self.text_col).to_pylist()
        return append_analysis(batch, score_batch(self.analyzer, texts), self.prefix)


class AnalyzeActor:
    """A plain Ray actor for the importer: texts in, analysis columns out."""

    def __init__(self, pack: str | None, max_chars: int | None = None) -> None:
        from emotiondesk.analyzer import load_analyzer

        self.analyzer: Analyzer = load_analyzer(pack, max_chars=max_chars)

    def score(self, texts: Sequence[str]) -> dict[str, list[Any]]:
        return score_batch(self.analyzer, texts)

    def version(self) -> str:
        return self.analyzer.version


class RayScorer:
    """A :class:`~emotiondesk.usecases.scoring.BatchScorer` over a pool of :class:`AnalyzeActor`.

    Batches go to the actors in turn; ``depth`` (two per actor) batches are in
    flight while the caller stores the oldest, so the actors keep working
    while the database writes. Use inside :func:`ray_session`.
    """

    def __init__(
        self,
        ray: Any,
        *,
        pack: str | Path | None = None,
        workers: int = 2,
        max_chars: int | None = None,
    ) -> None:
        if workers < 1:
            raise DataError("--workers must be at least 1")
        remote = ray.remote(num_cpus=actor_cpus(ray, workers))(AnalyzeActor)
        self.ray = ray
        self.actors = [remote.remote(_pack_arg(pack), max_chars) for _ in range(workers)]
        self.depth = 2 * workers
        self._next = 0
        # the pack loads in every actor before the first batch is sent
        self.version = ray.get([a.version.remote() for a in self.actors])[0]

    def submit(self, texts: list[str]) -> Any:
        actor = self.actors[self._next % len(self.actors)]
        self._next += 1
        return actor.score.remote(texts)

    def result(self, handle: Any) -> dict[str, list[Any]]:
        return self.ray.get(handle)  # type: ignore[no-any-return]


def score_file_ray(
    src_path: str | Path,
    dst_path: str | Path,
    *,
    pack: str | Path | None = None,
    text_col: str | None = None,
    in_format: str | None = None,
    out_format: str | None = None,
    prefix: str = "",
    workers: int = 2,
    batch_size: int = 1024,
    address: str | None = None,
    max_chars: int | None = None,
) -> ScoreReport:
    """Score ``src_path`` on Ray into the folder ``dst_path`` (Ray Data's files, in input order).

    The files are written to a temporary folder next to ``dst_path`` and
    moved into place when every row is scored: an interrupted run leaves no
    partial output (run it again).
    """
    import pyarrow as pa

    src = Path(src_path)
    dst = Path(dst_path)
    ifmt = input_format(src, in_format)
    ofmt = output_format(dst, out_format)
    if workers < 1 or batch_size < 1:
        raise DataError("--workers and --batch-size must be at least 1")
    source = open_source(src, ifmt) if ifmt != "jsonl" else None
    columns = source.columns if source is not None else None
    if dst.exists() and not dst.is_dir():
        raise DataError(f"{dst}: exists and is a file; the Ray engine writes a folder of files")
    if dst.is_dir() and any(dst.iterdir()):
        raise DataError(f"{dst}: the folder is not empty; remove it or choose another")
    report = ScoreReport(input=str(src), output=str(dst), engine="ray", text_column="")
    report.model = pack_version(pack)
    pack_arg = _pack_arg(pack)
    tmp = dst.with_name(f".{dst.name}.ray-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    with ray_session(address, num_cpus=None) as ray:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        if ifmt == "parquet":
            ds = ray.data.read_parquet(str(src.resolve()))
        elif ifmt == "csv":
            import pyarrow.csv as pacsv

            header, delimiter = csv_header(src)
            ds = ray.data.read_csv(
                str(src.resolve()),
                read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
                ),
            )
        else:
            ds = ray.data.read_json(str(src.resolve()), lines=True)
            columns = list(ds.schema().names)
        assert columns is not None
        text = resolve_text_column(columns, text_col, name=src.name)
        check_no_clash(columns, prefix, name=src.name)
        report.text_column = text
        t0 = time.perf_counter()
        cpus = actor_cpus(ray, workers)
        # A file is often one block; blocks of a batch each spread it over the actors
        # (a streaming split, no shuffle).
        ds = ds.repartition(target_num_rows_per_block=batch_size)
        scored = ds.map_batches(
            ScoreActor,
            fn_constructor_kwargs={
                "pack": pack_arg,
                "text_col": text,
                "prefix": prefix,
                "max_chars": max_chars,
            },
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus,
        )
        # Written here, in the order the blocks stream back (preserve_order): Ray's own
        # writers name their files so that file-name order is not always block order
        # (a block of rows 8000-8191 once sorted after 8192-9191), and the output must
        # keep the input's row order.
        _write_in_order(scored, tmp, ofmt)
        report.seconds = time.perf_counter() - t0
    report.rows = sum(_rows(p, ofmt) for p in sorted(tmp.iterdir()) if p.is_file())
    if dst.is_dir():
        dst.rmdir()
    os.replace(tmp, dst)
    return report


def _rows(path: Path, fmt: str) -> int:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    import pyarrow.csv as pacsv

    return int(pacsv.read_csv(path).num_rows)


def _write_in_order(ds: Any, folder: Path, fmt: str) -> None:
    """Stream ``ds``'s batches, in order, into one file ``part-00000.{fmt}`` of ``folder``."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    target = folder / f"part-00000.{'parquet' if fmt == 'parquet' else 'csv'}"
    writer: Any = None
    try:
        for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
            if batch.num_rows == 0:
                continue
            if writer is None:
                writer = (
                    pq.ParquetWriter(target, batch.schema)
                    if fmt == "parquet"
                    else pacsv.CSVWriter(target, batch.schema)
                )
            writer.write_table(batch)
    finally:
        if writer is not None:
            writer.close()


def read_output(path: str | Path) -> pa.Table:
    """A scored output (a file, or the Ray engine's folder in file-name order) as one table."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    tables = [
        pq.read_table(f) if f.suffix in (".parquet", ".pq") else pacsv.read_csv(f) for f in files
    ]
    return pa.concat_tables(tables) if tables else pa.table({})
