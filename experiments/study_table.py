"""The generalization study's table: one row per K-fold run folder, read from its files.

Usage::

    python experiments/study_table.py RUN_DIR [RUN_DIR ...]          # markdown on stdout
    python experiments/study_table.py runs/study/* --json table.json  # and the numbers as JSON

Each RUN_DIR holds ``fold1 .. foldK`` as ``experiments/baved_parallel.py --folds K`` writes
them. Per run: test UA, WA and macro F1 as mean +- standard deviation over the folds
(population std, ``metrics.summarize_folds``), the UA of the folds' pooled confusion matrix,
the validation UA at each fold's selected epoch (mean: what the recipe is chosen on; test
figures are reported, never used to choose), the selected and the trained epochs, the
training wall time summed over the folds, and the recipe and command read from the run's
``config.json``. Figures come from ``metrics.json`` and ``history.csv``; older runs whose
metrics.json lacks ``ua``/``wa`` use ``macro_recall``/``accuracy`` (the same numbers).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from minitorch_ser.app import metrics as M


def fold_dirs(run: Path) -> list:
    """``run/fold1 .. foldK`` in numeric order; ValueError when there is none."""
    folds = sorted((p for p in run.glob("fold*") if p.name[4:].isdigit()),
                   key=lambda p: int(p.name[4:]))
    if not folds:
        raise ValueError(f"{run}: no fold1 .. foldK folders (is it a --folds run?)")
    return folds


def read_fold(fold: Path) -> dict:
    """metrics.json of a fold, with ``ua``/``wa`` filled in and the validation UA at the
    selected epoch from history.csv."""
    path = fold / "metrics.json"
    if not path.is_file():
        raise ValueError(f"{fold}: no metrics.json (the fold has not finished)")
    m = json.loads(path.read_text())
    m.setdefault("ua", m["macro_recall"])
    m.setdefault("wa", m["accuracy"])
    with open(fold / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    best = next(r for r in rows if int(r["epoch"]) == int(m["best_epoch"]))
    m["val_ua_at_best"] = float(best["val_ua"]) if "val_ua" in best else float("nan")
    return m


def run_row(run: Path) -> dict:
    """The table's numbers for one K-fold run folder."""
    folds = [read_fold(f) for f in fold_dirs(run)]
    summary = M.summarize_folds(folds)
    config = json.loads((run / "fold1" / "config.json").read_text())
    return {
        "run": run.name, "n_folds": summary["n_folds"],
        "ua_mean": summary["ua_mean"], "ua_std": summary["ua_std"],
        "wa_mean": summary["wa_mean"], "wa_std": summary["wa_std"],
        "macro_f1_mean": summary["macro_f1_mean"], "macro_f1_std": summary["macro_f1_std"],
        "pooled_ua": summary["pooled"]["ua"],
        "val_ua_mean": float(np.mean([m["val_ua_at_best"] for m in folds])),
        "best_epochs": [int(m["best_epoch"]) for m in folds],
        "epochs_run": [int(m["epochs_run"]) for m in folds],
        "train_minutes": sum(float(m["train_seconds"]) for m in folds) / 60,
        # the recipe's description (older runs wrote it under "recipe")
        "recipe": config.get("recipe_line", config.get("recipe", "")),
    }


def markdown(rows: list) -> str:
    """The rows as a markdown table."""
    lines = ["| run | test UA (mean +- std) | WA | macro F1 | pooled UA | val UA at selection | "
             "selected / trained epochs | training min |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(
            f"| {r['run']} | **{r['ua_mean']:.4f} +- {r['ua_std']:.4f}** | "
            f"{r['wa_mean']:.4f} +- {r['wa_std']:.4f} | "
            f"{r['macro_f1_mean']:.4f} +- {r['macro_f1_std']:.4f} | {r['pooled_ua']:.4f} | "
            f"{r['val_ua_mean']:.4f} | {'/'.join(map(str, r['best_epochs']))} of "
            f"{'/'.join(map(str, r['epochs_run']))} | {r['train_minutes']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="K-fold run folders")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        try:
            rows.append(run_row(run))
        except (ValueError, OSError, KeyError, StopIteration) as err:
            print(f"skipped {run}: {err}", file=sys.stderr)
    print(markdown(rows))
    if args.json:
        args.json.write_text(M.to_json({"rows": rows}))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
