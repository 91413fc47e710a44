"""Comparisons of two episodes on one goal, stored as Parquet: what reward models learn from.

A comparison folder ``DIR`` holds:

- ``parts/part-*.parquet``: the pairs, one row per comparison, appended by :func:`write_comparisons`. Each
  part is written to a temporary file, fsynced and renamed into place, so a crash while appending never
  damages rows already written (a half-written temporary file is never read).
- ``labels.jsonl``: the labels people gave on the labelling page (``rlft label``), one JSON line per
  answer, each fsynced before the page moves on (:func:`append_label`).
- ``comparisons.parquet``: every usable comparison (oracle rows, and human rows with their label applied),
  rewritten atomically after each change: the file to hand to other tools. TRL's reward trainer reads its
  ``prompt`` / ``chosen`` / ``rejected`` columns directly::

      import datasets, pandas
      pandas.read_parquet("DIR/comparisons.parquet")[["prompt", "chosen", "rejected"]]
      datasets.load_dataset("parquet", data_files="DIR/comparisons.parquet")["train"]

- ``episodes/``: the two episodes of every pair, the files named by ``chosen_path`` / ``rejected_path``
  (relative to ``DIR``): a Markdown transcript for web (``.md``), an animated GIF for tabletop (``.gif``,
  with the final frame beside it as ``.npy`` and ``.png``), and always the full record as ``.json``
  (:func:`episode_file` finds them).

:func:`read_comparisons` is what reward-model training reads: the oracle's rows as written, and the human
rows labelled so far with ``chosen`` / ``rejected`` swapped according to the label (``tie`` flagged for a
tie; skipped and unlabelled pairs left out).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rlft.errors import ConfigError, DatasetError, atomic_write_bytes, check_choice, require

__all__ = [
    "COMPARISONS_FILE",
    "LABELS",
    "RATERS",
    "TRL_COLUMNS",
    "Comparison",
    "append_label",
    "apply_label",
    "episode_file",
    "live_labels",
    "read_comparisons",
    "read_label_log",
    "read_labels",
    "read_pairs",
    "refresh_comparisons_file",
    "write_comparisons",
]

RATERS: tuple[str, ...] = ("oracle", "human")
"""Who judges a pair: a simulated rater on the env's true score, or a person on the labelling page."""

LABELS: tuple[str, ...] = ("left", "right", "tie", "skip")
"""A person's answers: the left (stored ``chosen``) or right (stored ``rejected``) episode is better, a
tie, or skip (no answer; the pair is left out)."""

UNDO = "undo"
"""Journal entry that withdraws a pair's latest label."""

COMPARISONS_FILE = "comparisons.parquet"
"""The consolidated file of usable comparisons inside a comparison folder."""

TRL_COLUMNS: tuple[str, ...] = ("prompt", "chosen", "rejected")
"""TRL's reward-data convention: the first columns of every comparison file."""

PARTS_DIR = "parts"
LABELS_FILE = "labels.jsonl"


@dataclass(frozen=True)
class Comparison:
    """One row: two episodes of one goal from one start state, and which one the rater preferred.

    Unlabelled human pairs (``labelled=False``) keep the order they are shown in: ``chosen`` on the left,
    ``rejected`` on the right, until a label swaps them.
    """

    pair_id: str
    """Unique id of the pair."""
    env_id: str
    """Environment id."""
    goal_seed: int
    """The reset seed both episodes started from (same goal, same start state)."""
    prompt: str
    """The instruction."""
    chosen: str
    """Text of the preferred episode (:func:`rlft.agents.episodes.episode_text`)."""
    rejected: str
    """Text of the other episode."""
    chosen_episode: str
    """Id of the preferred episode."""
    rejected_episode: str
    """Id of the other episode."""
    chosen_path: str
    """The preferred episode's file, relative to the comparison folder (.md transcript or .gif)."""
    rejected_path: str
    """The other episode's file, relative to the comparison folder."""
    chosen_score: float = math.nan
    """True env score of the preferred episode (for analysis and ceilings; NaN when unknown)."""
    rejected_score: float = math.nan
    """True env score of the other episode (NaN when unknown)."""
    rater: str = "oracle"
    """``oracle`` or ``human``."""
    confidence: float = math.nan
    """The rater's probability that ``chosen`` is preferred (oracle: the Bradley-Terry probability of the
    drawn label; human: 1, or 0.5 for a tie; NaN while unlabelled)."""
    tie: bool = False
    """The rater judged both episodes equally good (``chosen`` / ``rejected`` order is then arbitrary)."""
    labelled: bool = True
    """False for a human pair not yet labelled."""
    pair_index: int = 0
    """Position of the pair in the run that made it (pairs are shown and read in this order)."""
    split: str = ""
    """Goal split the episodes were drawn from (``""`` when unknown)."""
    chosen_agent: str = ""
    """Who acted in the preferred episode."""
    rejected_agent: str = ""
    """Who acted in the other episode."""

    def swapped(self) -> Comparison:
        """The same pair with ``chosen`` and ``rejected`` exchanged."""
        changes = {}
        for name in ("", "_episode", "_path", "_score", "_agent"):
            changes[f"chosen{name}"] = getattr(self, f"rejected{name}")
            changes[f"rejected{name}"] = getattr(self, f"chosen{name}")
        return replace(self, **changes)


_FIELDS = tuple(f.name for f in fields(Comparison))
_COLUMN_ORDER = (*TRL_COLUMNS, *(name for name in _FIELDS if name not in TRL_COLUMNS))


def _pyarrow() -> tuple[Any, Any]:
    pa = require("pyarrow", "comparison files (Parquet)")
    pq = require("pyarrow.parquet", "comparison files (Parquet)")
    return pa, pq


def _schema() -> Any:
    pa, _ = _pyarrow()
    types = {
        "goal_seed": pa.int64(),
        "pair_index": pa.int64(),
        "chosen_score": pa.float64(),
        "rejected_score": pa.float64(),
        "confidence": pa.float64(),
        "tie": pa.bool_(),
        "labelled": pa.bool_(),
    }
    return pa.schema([(name, types.get(name, pa.string())) for name in _COLUMN_ORDER])


def _check_row(row: object) -> Comparison:
    if not isinstance(row, Comparison):
        raise ConfigError(f"write_comparisons takes Comparison rows; got {type(row).__name__}.")
    if not row.pair_id:
        raise ConfigError("Comparison.pair_id must be a non-empty string.")
    check_choice("rater", row.rater, RATERS)
    return row


def _table(rows: Sequence[Comparison]) -> Any:
    pa, _ = _pyarrow()
    columns = {name: [getattr(r, name) for r in rows] for name in _COLUMN_ORDER}
    return pa.table(columns, schema=_schema())


def _parquet_bytes(rows: Sequence[Comparison]) -> bytes:
    # Arrow's own buffer and no reader threads: Arrow's CPU pool, once it has worked through a Python file
    # object, can deadlock at interpreter exit (apache/arrow#50482), and these files are small.
    pa, pq = _pyarrow()
    sink = pa.BufferOutputStream()
    pq.write_table(_table(rows), sink)
    return sink.getvalue().to_pybytes()


def _fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _part_files(directory: Path) -> list[Path]:
    return sorted((directory / PARTS_DIR).glob("part-*.parquet"))


def _rows_of(path: Path) -> list[Comparison]:
    _, pq = _pyarrow()
    try:
        table = pq.read_table(path, use_threads=False)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise DatasetError(
            f"Cannot read the comparison file {path} ({err}); move it away or delete it."
        ) from err
    known = [name for name in table.column_names if name in _FIELDS]
    rows = []
    for record in table.select(known).to_pylist():
        for name in ("chosen_score", "rejected_score", "confidence"):
            if record.get(name) is None:
                record[name] = math.nan
        rows.append(Comparison(**{k: v for k, v in record.items() if v is not None}))
    return rows


def read_pairs(directory: str | Path) -> list[Comparison]:
    """Every pair written to ``directory``, as written (human pairs unlabelled), in ``pair_index`` order.

    Raises:
        DatasetError: ``directory`` does not exist, or a part file is damaged.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DatasetError(
            f"No comparison folder at {directory}: make one with rlft compare ENV_ID --out {directory}."
        )
    seen: set[str] = set()
    rows = []
    for path in _part_files(directory):
        for row in _rows_of(path):
            if row.pair_id not in seen:  # a pair written twice (e.g. two writers) counts once
                seen.add(row.pair_id)
                rows.append(row)
    rows.sort(key=lambda r: (r.pair_index, r.pair_id))
    return rows


def apply_label(pair: Comparison, label: str) -> Comparison | None:
    """The comparison a person's ``label`` (one of :data:`LABELS`) makes of ``pair``; ``None`` for skip.

    ``left`` keeps the stored order, ``right`` swaps ``chosen`` and ``rejected``, ``tie`` flags a tie.

    Raises:
        ConfigError: unknown label.
    """
    check_choice("label", label, LABELS)
    if label == "skip":
        return None
    labelled = replace(pair, rater="human", labelled=True, tie=label == "tie")
    if label == "tie":
        return replace(labelled, confidence=0.5)
    labelled = replace(labelled, confidence=1.0)
    return labelled.swapped() if label == "right" else labelled


def read_comparisons(directory: str | Path, *, include_unlabelled: bool = False) -> list[Comparison]:
    """The comparisons of ``directory`` that a reward model learns from, in ``pair_index`` order.

    Oracle rows as written; human rows with their latest label applied (:func:`apply_label`); skipped
    pairs are left out, and so are unlabelled ones unless ``include_unlabelled``.

    Raises:
        DatasetError: ``directory`` does not exist, or a part file is damaged.
    """
    labels = read_labels(directory)
    out = []
    for pair in read_pairs(directory):
        if pair.labelled:
            out.append(pair)
        elif pair.pair_id in labels:
            labelled = apply_label(pair, labels[pair.pair_id])
            if labelled is not None:
                out.append(labelled)
        elif include_unlabelled:
            out.append(pair)
    return out


def refresh_comparisons_file(directory: str | Path) -> Path:
    """Rewrite ``directory/comparisons.parquet`` (atomically) from :func:`read_comparisons`."""
    directory = Path(directory)
    path = atomic_write_bytes(directory / COMPARISONS_FILE, _parquet_bytes(read_comparisons(directory)))
    _fsync_dir(directory)
    return path


def _pair_ids(directory: Path) -> set[str]:
    _, pq = _pyarrow()
    ids: set[str] = set()
    for path in _part_files(directory):
        try:
            table = pq.read_table(path, columns=["pair_id"], use_threads=False)
            ids.update(table.column("pair_id").to_pylist())
        except Exception as err:  # pyarrow raises several types for a damaged file
            raise DatasetError(f"Cannot read the comparison file {path} ({err}); move it away.") from err
    return ids


def write_comparisons(directory: str | Path, rows: Iterable[Comparison], refresh: bool = True) -> Path:
    """Append ``rows`` to the comparison folder ``directory`` as a new part file; return its path.

    The part is written to a temporary file, fsynced and renamed into place; then (with ``refresh``)
    ``comparisons.parquet`` is rewritten. A crash at any point leaves every earlier row readable. Pass
    ``refresh=False`` for a long series of appends and call :func:`refresh_comparisons_file` at the end
    (the rewrite reads every row); :func:`read_comparisons` reads the parts and is always current.

    Raises:
        ConfigError: a row is not a :class:`Comparison`, has no ``pair_id`` or an unknown rater, or a
            ``pair_id`` is repeated or already in ``directory``.
    """
    directory = Path(directory)
    rows = [_check_row(r) for r in rows]
    ids = [r.pair_id for r in rows]
    existing = _pair_ids(directory)
    repeated = sorted({i for i in ids if ids.count(i) > 1} | (set(ids) & existing))
    if repeated:
        raise ConfigError(f"pair_id already written to {directory}: {repeated[:5]}; pair ids must be unique.")
    parts = directory / PARTS_DIR
    parts.mkdir(parents=True, exist_ok=True)
    path = parts / f"part-{len(_part_files(directory)):06d}-{uuid.uuid4().hex[:8]}.parquet"
    atomic_write_bytes(path, _parquet_bytes(rows))
    _fsync_dir(parts)
    if refresh:
        refresh_comparisons_file(directory)
    return path


def episode_file(directory: str | Path, relative: str, suffix: str | None = None) -> Path:
    """The stored episode file ``relative`` (a row's ``chosen_path``), or its sibling with ``suffix``.

    ``episode_file(dir, row.chosen_path, ".npy")`` is a tabletop episode's final frame,
    ``".json"`` any episode's full record.

    Raises:
        DatasetError: the path leaves ``directory``.
    """
    root = Path(directory).resolve()
    path = (root / relative).resolve()
    if suffix is not None:
        path = path.with_suffix(suffix)
    if not path.is_relative_to(root) or path == root:
        raise DatasetError(f"Episode path {relative!r} points outside the comparison folder {root}.")
    return path


# -- the labels people give (rlft label) ---------------------------------------------------------------


def _labels_path(directory: str | Path) -> Path:
    return Path(directory) / LABELS_FILE


def _repair_torn_tail(path: Path) -> None:
    """Cut a half-written last line (a crash mid-append) so the next append starts on its own line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())


def append_label(directory: str | Path, pair_id: str, label: str) -> None:
    """Record a person's ``label`` (one of :data:`LABELS`, or ``"undo"``) for ``pair_id``, durably.

    The line is appended to ``labels.jsonl`` and fsynced before this returns: once it returns, a crash
    (even ``kill -9``) keeps the label. ``undo`` withdraws the pair's latest label.

    Raises:
        ConfigError: unknown label or empty pair id.
    """
    check_choice("label", label, (*LABELS, UNDO))
    if not isinstance(pair_id, str) or not pair_id:
        raise ConfigError("pair_id must be a non-empty string.")
    path = _labels_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    _repair_torn_tail(path)
    created = not path.exists()
    line = json.dumps(
        {"pair_id": pair_id, "label": label, "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    if created:
        _fsync_dir(path.parent)


def read_label_log(directory: str | Path) -> list[tuple[str, str]]:
    """The label journal as ``(pair_id, label)`` in the order given (a torn last line is ignored)."""
    path = _labels_path(directory)
    if not path.is_file():
        return []
    log = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # only a crash mid-append writes a partial line
        if isinstance(entry, dict) and entry.get("label") in (*LABELS, UNDO) and entry.get("pair_id"):
            log.append((str(entry["pair_id"]), str(entry["label"])))
    return log


def live_labels(log: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each pair's standing label after every ``undo`` in ``log``, in the order they were given."""
    live: dict[str, str] = {}
    for pair_id, label in log:
        live.pop(pair_id, None)  # a pair holds one label; a new answer moves it to the end
        if label != UNDO:
            live[pair_id] = label
    return live


def read_labels(directory: str | Path) -> dict[str, str]:
    """Each labelled pair's standing label (``left`` / ``right`` / ``tie`` / ``skip``)."""
    return live_labels(read_label_log(directory))
