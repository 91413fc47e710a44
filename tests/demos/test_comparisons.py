"""The comparison format: Parquet round trip, crash-safe appends, human labels, safe episode paths."""

from __future__ import annotations

import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from rlft.demos import comparisons as cmp
from rlft.demos.comparisons import (
    COMPARISONS_FILE,
    Comparison,
    append_label,
    episode_file,
    read_comparisons,
    read_labels,
    read_pairs,
    write_comparisons,
)
from rlft.errors import ConfigError, DatasetError


def _row(i: int, rater: str = "oracle", **changes) -> Comparison:
    fields = dict(
        pair_id=f"p{i:04d}",
        env_id="rlft/WebShop-v0",
        goal_seed=100 + i,
        prompt=f"buy item {i}",
        chosen=f"good episode {i}",
        rejected=f"bad episode {i}",
        chosen_episode=f"p{i:04d}-a",
        rejected_episode=f"p{i:04d}-b",
        chosen_path=f"episodes/p{i:04d}-a.md",
        rejected_path=f"episodes/p{i:04d}-b.md",
        chosen_score=1.0,
        rejected_score=0.25 if i % 2 else math.nan,
        rater=rater,
        confidence=0.9 if rater == "oracle" else math.nan,
        tie=i % 3 == 0,
        labelled=rater == "oracle",
        pair_index=i,
        split="train",
        chosen_agent="expert",
        rejected_agent="random",
    )
    fields.update(changes)
    return Comparison(**fields)


def _same(a: Comparison, b: Comparison) -> bool:
    def norm(c: Comparison) -> dict:
        return {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(c).items()}

    return norm(a) == norm(b)


def test_round_trip_and_the_trl_file(tmp_path: Path) -> None:
    rows = [_row(i) for i in range(5)]
    write_comparisons(tmp_path, rows[:3])
    write_comparisons(tmp_path, rows[3:])
    back = read_comparisons(tmp_path)
    assert len(back) == 5 and all(_same(a, b) for a, b in zip(rows, back, strict=True))
    table = pq.read_table(tmp_path / COMPARISONS_FILE)
    assert table.column_names[:3] == ["prompt", "chosen", "rejected"]
    assert table.num_rows == 5 and table.column("chosen").to_pylist()[4] == "good episode 4"
    assert {"pair_id", "rater", "confidence", "tie", "chosen_path", "chosen_score"} <= set(table.column_names)
    assert table.schema.field("tie").type == "bool" and table.schema.field("goal_seed").type == "int64"


def test_bad_rows_are_refused(tmp_path: Path) -> None:
    write_comparisons(tmp_path, [_row(0)])
    with pytest.raises(ConfigError, match="already written"):
        write_comparisons(tmp_path, [_row(0)])
    with pytest.raises(ConfigError, match="already written"):
        write_comparisons(tmp_path, [_row(1), _row(1)])
    with pytest.raises(ConfigError, match="rater"):
        write_comparisons(tmp_path, [_row(2, rater="robot")])
    with pytest.raises(ConfigError, match="Comparison rows"):
        write_comparisons(tmp_path, [{"pair_id": "x"}])  # type: ignore[list-item]
    with pytest.raises(DatasetError, match="rlft compare"):
        read_comparisons(tmp_path / "missing")
    assert [r.pair_id for r in read_comparisons(tmp_path)] == ["p0000"]


def test_a_crash_mid_append_leaves_earlier_rows_readable(tmp_path: Path, monkeypatch) -> None:
    write_comparisons(tmp_path, [_row(i) for i in range(3)])
    before = sorted(p.name for p in (tmp_path / "parts").iterdir())

    real = cmp.atomic_write_bytes

    def crash_after_half(path, data):
        if path.name.startswith("part-"):
            # What a kill -9 mid-write leaves: half a temporary file next to the parts.
            (path.parent / f".{path.name}.tmpcrash").write_bytes(data[: len(data) // 2])
            raise OSError("simulated crash mid-write")
        return real(path, data)

    monkeypatch.setattr(cmp, "atomic_write_bytes", crash_after_half)
    with pytest.raises(OSError, match="simulated"):
        write_comparisons(tmp_path, [_row(i) for i in range(3, 6)])
    monkeypatch.undo()
    assert [r.pair_id for r in read_comparisons(tmp_path)] == ["p0000", "p0001", "p0002"]
    assert pq.read_table(tmp_path / COMPARISONS_FILE).num_rows == 3
    # The next append works and the partial file is never read.
    write_comparisons(tmp_path, [_row(i) for i in range(3, 6)])
    assert len(read_comparisons(tmp_path)) == 6
    assert set(before) < {p.name for p in (tmp_path / "parts").iterdir()}


def test_a_damaged_part_is_named(tmp_path: Path) -> None:
    write_comparisons(tmp_path, [_row(0)])
    (tmp_path / "parts" / "part-999999-bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetError, match="part-999999-bad"):
        read_comparisons(tmp_path)


def test_human_labels_swap_tie_skip_and_undo(tmp_path: Path) -> None:
    pairs = [_row(i, rater="human", tie=False) for i in range(5)]
    write_comparisons(tmp_path, pairs)
    assert read_comparisons(tmp_path) == []
    assert len(read_comparisons(tmp_path, include_unlabelled=True)) == 5
    for pair_id, label in [("p0000", "left"), ("p0001", "right"), ("p0002", "tie"), ("p0003", "skip")]:
        append_label(tmp_path, pair_id, label)
    append_label(tmp_path, "p0004", "left")
    append_label(tmp_path, "p0004", "undo")
    labelled = {c.pair_id: c for c in read_comparisons(tmp_path)}
    assert sorted(labelled) == ["p0000", "p0001", "p0002"]
    assert labelled["p0000"].chosen == "good episode 0" and labelled["p0000"].confidence == 1.0
    right = labelled["p0001"]
    assert right.chosen == "bad episode 1" and right.rejected == "good episode 1"
    assert right.chosen_path.endswith("-b.md") and right.chosen_score == 0.25 and right.rejected_score == 1.0
    assert right.chosen_agent == "random" and right.labelled and right.rater == "human"
    assert labelled["p0002"].tie and labelled["p0002"].confidence == 0.5
    assert read_labels(tmp_path) == {"p0000": "left", "p0001": "right", "p0002": "tie", "p0003": "skip"}
    with pytest.raises(ConfigError, match="label"):
        append_label(tmp_path, "p0000", "maybe")
    cmp.refresh_comparisons_file(tmp_path)
    assert pq.read_table(tmp_path / COMPARISONS_FILE).column("pair_id").to_pylist() == [
        "p0000",
        "p0001",
        "p0002",
    ]
    assert [p.pair_id for p in read_pairs(tmp_path)] == [f"p{i:04d}" for i in range(5)]


def test_a_torn_label_line_is_dropped_and_the_next_label_kept(tmp_path: Path) -> None:
    append_label(tmp_path, "a", "left")
    with (tmp_path / "labels.jsonl").open("a") as handle:
        handle.write('{"pair_id": "b", "lab')  # kill -9 mid-append
    assert read_labels(tmp_path) == {"a": "left"}
    append_label(tmp_path, "c", "right")
    assert read_labels(tmp_path) == {"a": "left", "c": "right"}


def test_episode_files_stay_inside_the_folder(tmp_path: Path) -> None:
    assert episode_file(tmp_path, "episodes/x.gif", ".npy") == (tmp_path / "episodes/x.npy").resolve()
    for bad in ("../secret.md", "/etc/passwd", "episodes/../../x.md", "."):
        with pytest.raises(DatasetError, match="outside"):
            episode_file(tmp_path, bad)
