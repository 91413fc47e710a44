"""A study's outputs: ``results.csv``, a markdown table, scaling plots and paired McNemar tests.

* ``results.csv``: one row per cell and evaluation split (:data:`CSV_COLUMNS`), with 95% Wilson intervals
  for the success rate and bootstrap intervals for the mean reward. A multi-task entry's cell (one policy
  learning several ids) gives a row per id and split, its ``trained_on`` the entry's name; tables, plots
  and tests show it as the method ``bc [<entry>]`` beside the single-task cells of the same id.
* ``results.md``: per env and split, success (pooled over seeds, 95% CI) by method and initialisation
  (rows) and demonstration count (columns), then the paired tests.
* ``plots/<Env>_<split>.png``: success vs demonstrations (log x), one line with a 95% band per method
  and initialisation; ``rl`` (no demonstrations) is a horizontal line.
* ``mcnemar.csv``: exact McNemar tests between two cells' outcomes on the same test episodes (same
  env, split, seed, episode reset seed): methods at one count and initialisation, ``rl`` against each
  ``bc+rl`` count, pretrained against scratch, and a multi-task policy against the single-task one
  (``tasks``). Pairs are pooled over the study's seeds.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rlft.agents.evaluate import wilson_interval
from rlft.errors import atomic_write_text, require

__all__ = [
    "CSV_COLUMNS",
    "MCNEMAR_COLUMNS",
    "cell_rows",
    "markdown_table",
    "mcnemar_exact",
    "method_label",
    "paired_tests",
    "per_task",
    "plot_scaling",
    "write_outputs",
]

CSV_COLUMNS: tuple[str, ...] = (
    "env_id",
    "split",
    "demos",
    "init",
    "method",
    "trained_on",
    "seed",
    "episodes",
    "successes",
    "success_rate",
    "success_ci_low",
    "success_ci_high",
    "mean_reward",
    "reward_ci_low",
    "reward_ci_high",
    "env_steps",
    "demo_steps",
    "bc_steps",
    "wall_s",
    "eval_s",
    "backbone",
    "finetune",
    "cell",
)
"""Columns of ``results.csv``. ``env_steps``: env steps the cell's RL stage took (0 for bc);
``demo_steps``: transitions in its demonstrations; ``wall_s``: training wall time (BC + RL stages, a
resumed stage extrapolated to the whole stage); ``eval_s``: evaluation wall time (a multi-task cell's
over all its ids); ``trained_on``: the env id, or the multi-task entry whose one policy learned several."""

MCNEMAR_COLUMNS: tuple[str, ...] = (
    "env_id",
    "split",
    "comparison",
    "a",
    "b",
    "pairs",
    "a_success",
    "b_success",
    "a_only",
    "b_only",
    "p_value",
)
"""Columns of ``mcnemar.csv``: ``a_only`` episodes only A solved, ``b_only`` only B; two-sided exact p."""


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value: the discordant pairs under Binomial(a_only + b_only, 1/2).

    Exact at every count (``math.comb`` is exact), so no chi-square approximation is needed.
    """
    n = a_only + b_only
    if n == 0:
        return 1.0
    k = min(a_only, b_only)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def per_task(cells: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cell records with each multi-task cell split into one record per id (``evals`` of that id).

    Every record gets ``trained_on``: the env id itself, or the multi-task entry's name.
    """
    out = []
    for cell in cells:
        tasks = cell.get("tasks")
        if not tasks:
            out.append({**cell, "trained_on": cell.get("trained_on") or cell["env_id"]})
            continue
        for env_id, evals in tasks.items():
            split_off = {"env_id": env_id, "trained_on": cell["env_id"], "evals": evals, "tasks": None}
            out.append({**cell, **split_off})
    return out


def method_label(record: dict[str, Any]) -> str:
    """The method as tables and plots name it: ``bc``, or ``bc [forms]`` for a multi-task entry's policy."""
    trained_on = record.get("trained_on") or record["env_id"]
    return record["method"] if trained_on == record["env_id"] else f"{record['method']} [{trained_on}]"


def cell_rows(cells: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One CSV row per cell and evaluation split (per id for multi-task cells: :func:`per_task`)."""
    rows = []
    for cell in per_task(cells):
        for split, ev in cell["evals"].items():
            successes = int(sum(bool(s) for s in ev["successes"]))
            rows.append(
                {
                    "env_id": cell["env_id"],
                    "split": split,
                    "demos": cell["demos"],
                    "init": cell["init"],
                    "method": cell["method"],
                    "trained_on": cell["trained_on"],
                    "seed": cell["seed"],
                    "episodes": ev["episodes"],
                    "successes": successes,
                    "success_rate": ev["success_rate"],
                    "success_ci_low": ev["success_ci"][0],
                    "success_ci_high": ev["success_ci"][1],
                    "mean_reward": ev["mean_reward"],
                    "reward_ci_low": ev["reward_ci"][0],
                    "reward_ci_high": ev["reward_ci"][1],
                    "env_steps": cell["env_steps"],
                    "demo_steps": cell["demo_steps"],
                    "bc_steps": cell["bc_steps"],
                    "wall_s": round(float(cell["wall_s"]), 2),
                    "eval_s": round(float(cell["eval_s"]), 2),
                    "backbone": cell["backbone"],
                    "finetune": cell["finetune"],
                    "cell": cell["key"],
                }
            )
    order = ("env_id", "split", "method", "trained_on", "init", "demos", "seed")
    return sorted(rows, key=lambda r: tuple(r[k] for k in order))


def _csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _outcomes(cell: dict[str, Any], split: str) -> dict[tuple[int, int], bool]:
    ev = cell["evals"][split]
    return {(cell["seed"], int(s)): bool(ok) for s, ok in zip(ev["seeds"], ev["successes"], strict=True)}


def _test(env_id: str, split: str, comparison: str, a: str, b: str, pairs_a: dict, pairs_b: dict) -> dict:
    shared = sorted(set(pairs_a) & set(pairs_b))
    a_only = sum(pairs_a[k] and not pairs_b[k] for k in shared)
    b_only = sum(pairs_b[k] and not pairs_a[k] for k in shared)
    return {
        "env_id": env_id,
        "split": split,
        "comparison": comparison,
        "a": a,
        "b": b,
        "pairs": len(shared),
        "a_success": sum(pairs_a[k] for k in shared) / len(shared) if shared else float("nan"),
        "b_success": sum(pairs_b[k] for k in shared) / len(shared) if shared else float("nan"),
        "a_only": a_only,
        "b_only": b_only,
        "p_value": mcnemar_exact(a_only, b_only),
    }


def paired_tests(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """McNemar tests on shared test episodes (see the module docstring), pairs pooled over seeds."""
    # Keyed by (env id, split) and then (method, trained_on, init, demos).
    pooled: dict[tuple[str, str], dict[tuple[str, str, str, int], dict[tuple[int, int], bool]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for cell in per_task(cells):
        for split in cell["evals"]:
            arm = (cell["method"], cell["trained_on"], cell["init"], int(cell["demos"]))
            pooled[(cell["env_id"], split)][arm].update(_outcomes(cell, split))
    tests = []
    for (env_id, split), arms in sorted(pooled.items()):
        shown = {
            arm: method_label({"method": arm[0], "trained_on": arm[1], "env_id": env_id}) for arm in arms
        }
        labels = {arm: f"{shown[arm]}/{arm[2]}/d{arm[3]}" for arm in arms}
        names = sorted(arms, key=lambda arm: (shown[arm], arm[2], arm[3]))
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                (ma, ta, ia, da), (mb, tb, ib, db) = a, b
                if ia == ib and da == db and (ma, ta) != (mb, tb):
                    comparison = "tasks" if ma == mb else "method"
                elif ia == ib and ta == tb and {ma, mb} == {"rl", "bc+rl"}:
                    comparison = "rl vs bc+rl"
                elif (ma, ta, da) == (mb, tb, db) and ia != ib:
                    comparison = "init"
                else:
                    continue
                tests.append(_test(env_id, split, comparison, labels[a], labels[b], arms[a], arms[b]))
    return tests


def _pooled_success(rows: Sequence[dict[str, Any]]) -> tuple[float, float, float, int]:
    """Success rate over every episode of ``rows`` (the seeds pooled), its 95% Wilson interval, n."""
    n = sum(int(r["episodes"]) for r in rows)
    k = sum(int(r["successes"]) for r in rows)
    low, high = wilson_interval(k, n)
    return (k / n if n else float("nan")), low, high, n


def _grouped(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[tuple[str, str], dict[int, list]]]:
    out: dict[tuple[str, str], dict[tuple[str, str], dict[int, list]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for r in rows:
        out[(r["env_id"], r["split"])][(method_label(r), r["init"])][int(r["demos"])].append(r)
    return out


def markdown_table(rows: Sequence[dict[str, Any]], tests: Sequence[dict[str, Any]]) -> str:
    """The study's tables: success by method/init and demonstrations, env steps and wall time, tests."""
    lines = ["# Study results", ""]
    for (env_id, split), series in sorted(_grouped(rows).items()):
        counts = sorted({d for by_demos in series.values() for d in by_demos})
        lines += [f"## {env_id}, `{split}` goals", ""]
        header = "| method | init | " + " | ".join(f"{d} demos" for d in counts) + " | env steps | wall s |"
        lines += [header, "|" + "---|" * (len(counts) + 4)]
        for (method, init), by_demos in sorted(series.items()):
            cells = []
            for d in counts:
                if d not in by_demos:
                    cells.append("")
                    continue
                p, low, high, n = _pooled_success(by_demos[d])
                cells.append(f"{p:.0%} [{low:.0%}, {high:.0%}] (n={n})")
            every = [r for rs in by_demos.values() for r in rs]
            steps = sum(int(r["env_steps"]) for r in every) / len(every)
            wall = sum(float(r["wall_s"]) for r in every) / len(every)
            lines.append(f"| {method} | {init} | " + " | ".join(cells) + f" | {steps:.0f} | {wall:.0f} |")
        lines.append("")
        mine = [t for t in tests if (t["env_id"], t["split"]) == (env_id, split)]
        if mine:
            lines += ["| paired test | A | B | pairs | A | B | only A | only B | p (exact McNemar) |"]
            lines += ["|---|---|---|---|---|---|---|---|---|"]
            for t in mine:
                lines.append(
                    f"| {t['comparison']} | {t['a']} | {t['b']} | {t['pairs']} | {t['a_success']:.0%} | "
                    f"{t['b_success']:.0%} | {t['a_only']} | {t['b_only']} | {t['p_value']:.3g} |"
                )
            lines.append("")
    lines.append(
        "Success: pooled over seeds, 95% Wilson interval, n = test episodes. env steps: RL env steps per "
        "cell (mean); wall s: training wall time per cell (mean)."
    )
    return "\n".join(lines) + "\n"


def plot_scaling(rows: Sequence[dict[str, Any]], folder: Path) -> list[Path]:
    """One PNG per env and split: success vs demonstrations (log x), a 95% band per method and init."""
    matplotlib = require("matplotlib", "the study's plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for (env_id, split), series in sorted(_grouped(rows).items()):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        counts = sorted({d for by_demos in series.values() for d in by_demos if d > 0}) or [1]
        methods = sorted({method for method, _ in series})
        for (method, init), by_demos in sorted(series.items()):
            # One colour per method; pretrained solid with filled markers, scratch dashed with hollow ones
            # (a single demonstration count draws points only, so the markers must tell the two apart).
            style: Any = "-" if init == "pretrained" else "--"
            color = f"C{methods.index(method)}"
            face = color if init == "pretrained" else "none"
            label = f"{method} ({init})"
            points = sorted(by_demos)
            stats = [_pooled_success(by_demos[d]) for d in points]
            if points == [0]:  # no demonstrations: a level across the demonstration axis
                p, low, high, _ = stats[0]
                ax.hlines(p, counts[0], counts[-1], linestyles=style, colors=color, label=label)
                ax.fill_between([counts[0], counts[-1]], low, high, alpha=0.12, color=color)
                continue
            xs = [d for d in points if d > 0]
            ys = [s[0] for d, s in zip(points, stats, strict=True) if d > 0]
            lows = [s[1] for d, s in zip(points, stats, strict=True) if d > 0]
            highs = [s[2] for d, s in zip(points, stats, strict=True) if d > 0]
            ax.plot(xs, ys, linestyle=style, color=color, marker="o", markerfacecolor=face, label=label)
            ax.fill_between(xs, lows, highs, alpha=0.12, color=color)
        ax.set_xscale("log")
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("demonstrations")
        ax.set_ylabel(f"success on {split} goals")
        ax.set_title(env_id)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"{env_id.rsplit('/', 1)[-1]}_{split}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def write_outputs(out: Path, cells: Sequence[dict[str, Any]]) -> tuple[dict[str, Path], str]:
    """Write results.csv, mcnemar.csv, results.md and the plots into ``out``; returns (paths, table)."""
    rows = cell_rows(cells)
    tests = paired_tests(cells)
    table = markdown_table(rows, tests)
    outputs = {
        "results_csv": atomic_write_text(out / "results.csv", _csv(rows, CSV_COLUMNS)),
        "mcnemar_csv": atomic_write_text(out / "mcnemar.csv", _csv(tests, MCNEMAR_COLUMNS)),
        "results_md": atomic_write_text(out / "results.md", table),
    }
    for i, path in enumerate(plot_scaling(rows, out / "plots")):
        outputs[f"plot_{i}"] = path
    return outputs, table
