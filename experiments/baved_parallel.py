"""Reproduce the first paper on BAVED: parallel CNN + BiLSTM + attention, end to end.

Commands::

    # the paper's protocol (random stratified 80/10/10), default settings
    python experiments/baved_parallel.py --data /path/to/Basic-Arabic-Vocal-Emotions-Dataset

    # the honest protocol: no speaker in two sets; or 5-fold speaker cross-validation
    python experiments/baved_parallel.py --split speaker
    python experiments/baved_parallel.py --split speaker --folds 5

    # the paper's learning-rate sweep (one run per value, then a table)
    python experiments/baved_parallel.py --lr 0.01 0.02 0.05 0.075 0.1

    # other targets with the same model (the paper's future work)
    python experiments/baved_parallel.py --target gender

    # no data at hand: a two-minute demo on generated BAVED-format audio
    python experiments/baved_parallel.py --demo

    # any dataset from a CSV manifest (columns path,label[,speaker]; any number of classes,
    # any sample rate): the classes are its sorted labels, --split speaker uses 'speaker'
    python experiments/baved_parallel.py --manifest my_dataset.csv --split speaker

The data folder defaults to $BAVED_DIR, else ./data/baved. Get BAVED with
``git clone https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset``.
An interrupted run continues where it stopped with the same command plus ``--resume``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from minitorch_ser.autograd import random as mt_random
from minitorch_ser.app import runs
from minitorch_ser.app.cli_types import (nonnegative_float, nonnegative_int, positive_float,
                                     positive_int)
from minitorch_ser.data import baved, duplicates, manifest, splits, synthetic
from minitorch_ser.data.features import FeatureConfig
from minitorch_ser.app.experiment import RunSpec, prepare, run, write_config
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.app.training import TrainConfig, TrainingDiverged

GET_BAVED = ("BAVED is not included. Get it with\n"
             "    git clone https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset\n"
             "and pass --data to that folder (or set BAVED_DIR).")
TARGETS = {"emotion": list(baved.EMOTIONS), "gender": ["f", "m"], "word": list(baved.WORDS)}


@dataclass
class Config:
    data: str | None = None
    manifest: str | None = None
    demo: bool = False
    split: str = "random"
    folds: int = 0
    target: str = "emotion"
    attention: str = "mha"
    optimizer: str = "adam"
    lr: list = field(default_factory=lambda: [1e-3])
    epochs: int = 40
    patience: int = 10
    batch_size: int = 32
    copies: float = 2
    duration: float = 3.0
    seed: int = 0
    out: str | None = None
    cache_dir: str = ".cache/features"
    resume: bool = False
    overwrite: bool = False
    duplicates: str = "group"


def parse_args(argv=None) -> Config:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Commands::")[1])
    d = Config()
    p.add_argument("--data", help="BAVED folder (default: $BAVED_DIR, else ./data/baved)")
    p.add_argument("--demo", action="store_true", help="run on generated audio instead")
    p.add_argument("--manifest", help="CSV with columns path,label[,speaker]: any dataset "
                                      "instead of BAVED (the target is its label column)")
    p.add_argument("--duration", type=positive_float, default=d.duration,
                   help="seconds every clip is padded or trimmed to")
    p.add_argument("--split", choices=["random", "speaker"], default=d.split)
    p.add_argument("--folds", type=int, default=d.folds,
                   help="K > 1: speaker-grouped K-fold cross-validation (implies --split speaker)")
    p.add_argument("--target", choices=sorted(TARGETS), default=d.target)
    p.add_argument("--attention", choices=["mha", "additive"], default=d.attention)
    p.add_argument("--optimizer", choices=["adam", "sgd"], default=d.optimizer)
    p.add_argument("--lr", type=float, nargs="+", default=d.lr,
                   help="one value, or several for the learning-rate sweep")
    p.add_argument("--epochs", type=positive_int, default=d.epochs)
    p.add_argument("--patience", type=nonnegative_int, default=d.patience,
                   help="early stopping (0: off)")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--copies", type=nonnegative_float, default=d.copies,
                   help="noisy (AWGN 15-30 dB) copies per training clip")
    p.add_argument("--seed", type=nonnegative_int, default=d.seed)
    p.add_argument("--out", help="run folder (default runs/baved_<split>_<target>)")
    p.add_argument("--cache-dir", default=d.cache_dir, help="feature cache folder")
    p.add_argument("--resume", action="store_true", help="continue interrupted runs in --out")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run already in --out and start anew")
    p.add_argument("--duplicates", choices=duplicates.POLICIES, default=d.duplicates,
                   help="files with identical decoded samples: keep each group on one side of "
                        "every split (group), keep one file per group (drop), or stop (refuse)")
    a = p.parse_args(argv)
    cfg = Config(**{k: v for k, v in vars(a).items()})
    if cfg.folds == 1 or cfg.folds < 0:
        p.error(f"--folds {cfg.folds} must be 0 (no cross-validation) or >= 2")
    if cfg.folds:
        cfg.split = "speaker"
    return cfg


def resolve_data(cfg: Config) -> tuple[Path, bool]:
    """The BAVED folder to read, and whether it is the generated demo set."""
    if not cfg.demo:
        root = Path(cfg.data or os.environ.get("BAVED_DIR") or "data/baved")
        if root.is_dir():
            return root, False
        print(f"No BAVED data at {root}.\n{GET_BAVED}\nRunning the synthetic demo instead "
              f"(generated audio: its numbers say nothing about BAVED).\n")
    # generated once into the cache folder, reused by later demo runs
    root = Path(synthetic.demo_folder(cfg.cache_dir, "baved", synthetic.make_dataset,
                                      n_speakers=8, n_words=3, clips_per=2, seed=cfg.seed))
    cfg.epochs, cfg.patience, cfg.copies = min(cfg.epochs, 6), 0, min(cfg.copies, 1)
    return root, True


def run_settings(cfg: Config) -> dict:
    """The settings that define a run (for its fingerprint): all but where things are read and
    written and how the process was started."""
    skip = {"data", "manifest", "out", "cache_dir", "resume", "overwrite", "lr"}
    return {k: v for k, v in asdict(cfg).items() if k not in skip}


def make_splits(df, labels, cfg: Config) -> list[dict]:
    """The run's splits; copies of one recording (``dup_group``) and speakers that share a
    recording (``speaker_group``) always stay on one side."""
    if cfg.folds:
        return splits.speaker_kfold(df.assign(label=labels), k=cfg.folds, label_col="label",
                                    speaker_col="speaker_group", seed=cfg.seed)
    if cfg.split == "speaker":
        return [splits.speaker_split(df.assign(label=labels), label_col="label",
                                     speaker_col="speaker_group", seed=cfg.seed)]
    return [splits.random_split(labels, fractions=(0.8, 0.1, 0.1), seed=cfg.seed,
                                groups=df["dup_group"].to_numpy())]


def main(argv=None) -> int:
    """Run the experiment; user errors print one ``error:`` line and return 2, an interruption
    (Ctrl-C, SIGTERM) one line with the command that continues, and returns 130 / 143."""
    return runs.guarded(experiment_main, parse_args(argv), argv)


def experiment_main(cfg: Config, state: dict) -> int:
    t_start = time.perf_counter()
    if cfg.manifest:
        try:
            data = manifest.read_for_experiment(cfg.manifest, cfg.split)
        except (FileNotFoundError, ValueError) as err:   # missing or malformed manifest
            print(f"error: {err}", file=sys.stderr)
            return 2
        root, demo, dataset = Path(data.df.attrs["manifest"]), False, data.name
        df, labels, class_names = data.df, data.labels, data.class_names
        cfg.target = "label"
        out = Path(cfg.out or f"runs/{data.name}_{cfg.split}")
        state["lock"] = runs.claim(out, cfg.resume, cfg.overwrite)   # held to the end
        print(baved.eda(df, label_col="label", label_names=None, out_dir=out))
    else:
        root, demo = resolve_data(cfg)
        dataset = "synthetic" if demo else "BAVED"
        out = Path(cfg.out or f"runs/baved_{'demo' if demo else cfg.split}_{cfg.target}")
        state["lock"] = runs.claim(out, cfg.resume, cfg.overwrite)   # held to the end
        try:
            df = baved.read_metadata(root, errors="skip")
        except (FileNotFoundError, ValueError) as err:   # a folder without BAVED clips
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(baved.eda(df, out_dir=out))
        class_names = TARGETS[cfg.target]
        values = df[cfg.target].to_numpy()
        labels = (np.searchsorted(class_names, values) if cfg.target == "gender"
                  else values.astype(np.int64))
    # recordings with the same decoded samples, found by content (cached with the features)
    df = duplicates.annotate(df.assign(_label=labels), cfg.cache_dir,
                             speaker_col="speaker" if "speaker" in df.columns else None)
    try:
        df = duplicates.apply_policy(df, cfg.duplicates, out_dir=out, label_col="_label")
    except ValueError as err:                            # --duplicates refuse
        print(f"error: {err}", file=sys.stderr)
        return 2
    labels = df.pop("_label").to_numpy()
    if "speaker_group" not in df.columns:
        df["speaker_group"] = df["dup_group"].astype(str)
    present = np.unique(labels)
    if len(present) < 2:
        print(f"error: the data holds a single {cfg.target} class; nothing to classify",
              file=sys.stderr)
        return 2
    folds = make_splits(df, labels, cfg)

    # the paper's: 16 kHz, 3 s, n_fft 1024, Hamming 512, hop 256, 128 mels
    features = FeatureConfig(duration=cfg.duration)
    protocol = ("5-fold " if cfg.folds else "") + (
        "speaker-independent" if cfg.split == "speaker" else "random stratified 80/10/10")
    results = []
    for fold_i, split in enumerate(folds):
        prepared = None
        for lr in cfg.lr:
            mt_random.manual_seed(cfg.seed)
            train_cfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size,
                                    optimizer=cfg.optimizer, lr=lr, patience=cfg.patience,
                                    seed=cfg.seed)
            settings = {**run_settings(cfg), "lr": lr, "fold": fold_i + 1}
            spec = RunSpec(
                model_factory=lambda k, shape: ParallelCNNLSTMAttention(
                    n_classes=k, n_mels=shape[-2], n_frames=shape[-1], attention=cfg.attention),
                feature_config=features, train_config=train_cfg, copies=cfg.copies,
                cache_dir=cfg.cache_dir,
                extra_meta={"dataset": dataset, "target": cfg.target, "protocol": protocol,
                            "fingerprint": runs.fingerprint(settings, df["content_hash"],
                                                            labels, split)})
            run_dir = out
            if len(cfg.lr) > 1:
                run_dir = run_dir / f"lr{lr:g}"
            if len(folds) > 1:
                run_dir = run_dir / f"fold{fold_i + 1}"
            if cfg.resume:                     # same data and settings, before any write
                runs.check_resume(run_dir, spec.extra_meta["fingerprint"])
            write_config(run_dir, experiment=cfg, data=str(root), demo=demo, protocol=protocol,
                         fold=fold_i + 1, features=features, train=train_cfg)
            print(f"\n=== {protocol}, fold {fold_i + 1}/{len(folds)}, lr {lr:g} -> {run_dir}")
            state["run_dir"] = run_dir
            if prepared is None:
                prepared = prepare(df["path"].tolist(), labels, split, spec,
                                   groups=df["dup_group"].to_numpy())
            try:
                metrics = run(df["path"].tolist(), labels, class_names, split, spec, run_dir,
                              resume=cfg.resume, prepared=prepared, content=df)
            except TrainingDiverged as exc:  # a large learning rate: report it, go on
                print(f"lr {lr:g}, fold {fold_i + 1}: {exc}")
                results.append({"lr": lr, "fold": fold_i + 1, "run_dir": str(run_dir),
                                "diverged": str(exc)})
                continue
            metrics.update(lr=lr, fold=fold_i + 1, run_dir=str(run_dir))
            results.append(metrics)
            print(f"test accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f} "
                  f"(best epoch {metrics['best_epoch']}, {metrics['train_seconds'] / 60:.1f} min)")
            print((run_dir / "report.txt").read_text())

    print_summary(results, cfg, protocol, dataset, demo, time.perf_counter() - t_start, out)
    return 0


def print_summary(results, cfg, protocol, dataset, demo, seconds, out: Path) -> None:
    print(f"\n{dataset} | target {cfg.target} | {protocol} | "
          f"attention {cfg.attention} | {cfg.optimizer} | seed {cfg.seed} | "
          f"total {seconds / 60:.1f} min")
    print(f"{'lr':>8} {'fold':>5} {'test acc':>9} {'macro F1':>9} {'best val acc':>13} {'epochs':>7}")
    for r in results:
        if "diverged" in r:
            print(f"{r['lr']:>8g} {r['fold']:>5}   diverged (non-finite loss; see its run folder)")
            continue
        print(f"{r['lr']:>8g} {r['fold']:>5} {r['accuracy']:>9.4f} {r['macro_f1']:>9.4f} "
              f"{r['best_val_accuracy']:>13.4f} {r['epochs_run']:>7}")
    summary = {"dataset": dataset, "protocol": protocol, "demo": demo, "target": cfg.target,
               "runs": results}
    for lr in cfg.lr:
        finished = [r for r in results if r["lr"] == lr and "diverged" not in r]
        accs = [r["accuracy"] for r in finished]
        f1s = [r["macro_f1"] for r in finished]
        if len(accs) > 1:
            print(f"lr {lr:g}: test accuracy {np.mean(accs):.4f} +- {np.std(accs):.4f}, "
                  f"macro F1 {np.mean(f1s):.4f} +- {np.std(f1s):.4f} over {len(accs)} folds")
            summary[f"lr{lr:g}"] = {"accuracy_mean": float(np.mean(accs)),
                                    "accuracy_std": float(np.std(accs)),
                                    "macro_f1_mean": float(np.mean(f1s)),
                                    "macro_f1_std": float(np.std(f1s))}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))


if __name__ == "__main__":
    sys.exit(main())
