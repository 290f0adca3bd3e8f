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

    # no data at hand: a short demo on generated BAVED-format audio (6 epochs)
    python experiments/baved_parallel.py --demo

    # any dataset from a CSV manifest (columns path,label[,speaker]; any number of classes,
    # any sample rate): the classes are its sorted labels, --split speaker uses 'speaker'
    python experiments/baved_parallel.py --manifest my_dataset.csv --split speaker

The data folder defaults to $BAVED_DIR, else ./data/baved. Get BAVED with
``git clone https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset``.
An interrupted run continues where it stopped with the same command plus ``--resume``.
Every setting is an option (``-h`` lists them: data, features, model, augmentation, training)
and the run folder's config.json holds them all.

The script reads top to bottom: the configuration, the data and its duplicates, the splits,
then per split (and learning rate) the features, the model, the optimizer and scheduler, the
epoch loop with the training step, the evaluation, and the test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from minitorch_ser.app import metrics as M
from minitorch_ser.app import runs
from minitorch_ser.app.config import (AugmentConfig, DataConfig, ExperimentConfig,
                                      apply_defaults, apply_recipe, build_parser, from_namespace,
                                      model_options, recipe_line, to_dict)
from minitorch_ser.app.experiment import (cross_corpus_data, load_corpus, prepare,
                                          test_and_report, test_on_corpus, write_split)
from minitorch_ser.app.training import (EpochMeter, TrainConfig, TrainingDiverged, TrainingRun,
                                        batch_loss, class_weight_vector, clip_gradients,
                                        evaluate, make_averaged, make_optimizer,
                                        make_scheduler)
from minitorch_ser.autograd import random as mt_random
from minitorch_ser.autograd.allocator import keep_freed_memory
from minitorch_ser.autograd.tensor import Tensor, no_grad
from minitorch_ser.data import (baved, corpora, crosscorpus, duplicates, manifest, splits,
                                synthetic)
from minitorch_ser.data.augment import SpecAugment
from minitorch_ser.data.features import FeatureConfig
from minitorch_ser.data.loader import DataLoader
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention

GET_BAVED = ("BAVED is not included. Get it with\n"
             "    git clone https://github.com/40uf411/Basic-Arabic-Vocal-Emotions-Dataset\n"
             "and pass --data to that folder (or set BAVED_DIR).")
TARGETS = {"emotion": list(baved.EMOTIONS), "gender": ["f", "m"], "word": list(baved.WORDS)}

# The first paper's settings: 16 kHz, 3 s, n_fft 1024, Hamming 512, hop 256, 128 mels; Adam
# (lr 1e-3) with ReduceLROnPlateau, batch 32, 2 noisy copies (AWGN 15-30 dB) per training clip.
DEFAULTS = ExperimentConfig(
    data=DataConfig(target="emotion", split="random", fractions=(0.8, 0.1, 0.1)),
    features=FeatureConfig(),
    augment=AugmentConfig(copies=2.0),
    train=TrainConfig(epochs=40, patience=10),
)
# the second paper's augmentation settings, which this script does not use
SECOND_PAPER_AUGMENTATION = ("augment.noise_level", "augment.semitones", "augment.gain_db",
                             "augment.freq_masks", "augment.time_masks",
                             "augment.freq_mask_width", "augment.time_mask_width")
# a run on generated audio: fewer epochs and copies (shown in the header, overridable)
DEMO = {"train.epochs": 6, "train.patience": 0, "augment.copies": 1.0}


def parse_args(argv=None) -> ExperimentConfig:
    """The configuration (with the first learning rate of a sweep)."""
    return parse(argv)[0]


def parse(argv=None) -> tuple[ExperimentConfig, list]:
    """The configuration and the learning rates to sweep (one run each)."""
    p = build_parser(DEFAULTS, model_options(ParallelCNNLSTMAttention),
                     description=__doc__.split("\n")[0], epilog=__doc__.split("Commands::")[1],
                     skip=SECOND_PAPER_AUGMENTATION, several=("lr",))
    ns = p.parse_args(argv)
    if ns.__dict__.get("data.data") and ns.__dict__.get("data.manifest"):
        p.error("--data and --manifest exclude each other")
    if ns.__dict__.get("data.data") and ns.__dict__.get("data.demo"):
        p.error("--demo and --data exclude each other (the demo generates its own clips)")
    lrs = getattr(ns, "train.lr")
    lrs = lrs if isinstance(lrs, list) else [lrs]
    try:
        cfg = from_namespace(ns, DEFAULTS, "parallel", several=("lr",))
    except ValueError as err:                          # e.g. win_length > n_fft
        p.error(str(err))
    if cfg.data.folds == 1:
        p.error(f"--folds {cfg.data.folds} must be 0 (no cross-validation) or >= 2")
    if cfg.data.folds:
        cfg.data.split = "speaker"
    shown = apply_recipe(cfg, sys.argv[1:] if argv is None else argv)
    if shown:   # speaker-independent: the study's recipe for the options not given
        print("recipe for unseen speakers (--recipe paper keeps the paper's): " + ", ".join(shown))
    if cfg.data.target not in TARGETS:
        p.error(f"--target {cfg.data.target!r} must be one of {sorted(TARGETS)}")
    for option, name in (("--dataset", cfg.data.dataset), ("--test-dataset",
                                                           cfg.data.test_dataset)):
        if name is not None:
            try:
                corpora.corpus(name)
            except ValueError as err:
                p.error(f"{option}: {err}")
    if cfg.data.dataset and corpora.corpus(cfg.data.dataset).name != "baved":
        if cfg.data.target != "emotion":
            p.error(f"--target {cfg.data.target} is BAVED's; {cfg.data.dataset} has emotions")
        if cfg.data.demo:
            p.error("--demo generates BAVED-like clips; it does not go with --dataset")
    try:                                   # the model accepts these features and options
        _, n_mels, n_frames = cfg.features.shape
        model = ParallelCNNLSTMAttention(n_classes=3, n_mels=n_mels, n_frames=n_frames,
                                         **cfg.model.options).eval()
        with no_grad():
            model(Tensor(np.zeros((1, *cfg.features.shape), np.float32)))
    except (TypeError, ValueError) as err:
        p.error(f"the model cannot be built for these settings: {err}")
    return cfg, lrs


def resolve_data(cfg: ExperimentConfig, argv=None) -> tuple[Path, bool]:
    """The BAVED folder to read, and whether it is the generated demo set (whose smaller
    settings are then applied to the options not given, and printed).

    Raises
    ------
    FileNotFoundError
        ``--data`` or ``$BAVED_DIR`` names a folder that does not exist (only the default
        ./data/baved, when missing, falls back to the demo).
    """
    if not cfg.data.demo:
        given = cfg.data.data or os.environ.get("BAVED_DIR")
        root = Path(given or "data/baved")
        if root.is_dir():
            return root, False
        if given:
            raise FileNotFoundError(f"No BAVED data at {root}.\n{GET_BAVED}")
        print(f"No BAVED data at {root}.\n{GET_BAVED}\nRunning the synthetic demo instead "
              f"(generated audio: its numbers say nothing about BAVED).\n")
    # generated once into the cache folder, reused by later demo runs
    root = Path(synthetic.demo_folder(cfg.data.cache_dir, "baved", synthetic.make_dataset,
                                      n_speakers=8, n_words=3, clips_per=2, seed=cfg.seed))
    shown = apply_defaults(cfg, DEMO, sys.argv[1:] if argv is None else argv)
    if shown:
        print("demo settings: " + ", ".join(shown))
    return root, True


def load_data(cfg: ExperimentConfig, state: dict, argv=None):
    """Metadata, labels and class names of BAVED, another corpus (``--dataset``), a manifest or
    the demo; the run folder is claimed (``runs.claim``) before anything is written into it.

    Returns ``(df, labels, class_names, dataset, source, demo, out)``.
    """
    name = corpora.corpus(cfg.data.dataset).name if cfg.data.dataset else "baved"
    if name != "baved" and not cfg.data.manifest:   # another corpus, by its own file names
        df, labels, class_names, root = load_corpus(name, cfg.data.data)
        out = Path(cfg.out or f"runs/{name}_{cfg.data.split}")
        state["lock"] = runs.claim(out, cfg.resume, cfg.overwrite)    # held to the end
        print(corpora.eda(name, df, out_dir=out))
        return df, labels, class_names, name, str(root), False, out
    if cfg.data.manifest:
        data = manifest.read_for_experiment(cfg.data.manifest, cfg.data.split)
        cfg.data.target = "label"
        out = Path(cfg.out or f"runs/{data.name}_{cfg.data.split}")
        state["lock"] = runs.claim(out, cfg.resume, cfg.overwrite)    # held to the end
        print(baved.eda(data.df, label_col="label", label_names=None, out_dir=out))
        return (data.df, data.labels, data.class_names, data.name, data.df.attrs["manifest"],
                False, out)
    root, demo = resolve_data(cfg, argv)
    out = Path(cfg.out or f"runs/baved_{'demo' if demo else cfg.data.split}_{cfg.data.target}")
    state["lock"] = runs.claim(out, cfg.resume, cfg.overwrite)        # held to the end
    df = baved.read_metadata(root, errors="skip")
    print(baved.eda(df, out_dir=out))
    class_names = TARGETS[cfg.data.target]
    values = df[cfg.data.target].to_numpy()
    labels = (np.searchsorted(class_names, values) if cfg.data.target == "gender"
              else values.astype(np.int64))
    return df, labels, class_names, "synthetic" if demo else "BAVED", str(root), demo, out


def make_splits(df, labels, class_names, cfg: ExperimentConfig) -> list[dict]:
    """The run's splits; copies of one recording (``dup_group``) and speakers that share a
    recording (``speaker_group``) always stay on one side."""
    d = cfg.data
    if d.folds:
        return splits.speaker_kfold(df.assign(label=labels), k=d.folds, label_col="label",
                                    speaker_col="speaker_group", seed=cfg.seed,
                                    class_names=class_names)
    if d.split == "speaker":
        return [splits.speaker_split(df.assign(label=labels), label_col="label",
                                     speaker_col="speaker_group", fractions=d.fractions,
                                     seed=cfg.seed, class_names=class_names)]
    return [splits.random_split(labels, fractions=d.fractions, seed=cfg.seed,
                                groups=df["dup_group"].to_numpy(), class_names=class_names)]


def run_settings(cfg: ExperimentConfig) -> dict:
    """The settings that define a run (its fingerprint): everything but where files are read
    and written and how the process was started."""
    settings = to_dict(cfg)
    for key in ("data", "manifest", "cache_dir", "features_on_disk"):   # same results either way
        settings["data"].pop(key)
    for key in ("out", "resume", "overwrite"):
        settings.pop(key)
    return settings


def main(argv=None) -> int:
    """Run the experiment; user errors print one ``error:`` line and return 2, an interruption
    (Ctrl-C, SIGTERM) one line with the command that continues, and returns 130 / 143."""
    cfg, lrs = parse(argv)
    return runs.guarded(lambda cfg, state: experiment(cfg, lrs, state, argv), cfg, argv)


def experiment(cfg: ExperimentConfig, lrs: list, state: dict, argv=None) -> int:
    t_start = time.perf_counter()
    keep_freed_memory()      # reuse freed feature maps' pages (autograd/allocator.py)
    try:
        df, labels, class_names, dataset, source, demo, out = load_data(cfg, state, argv)
        test_df = None
        if cfg.data.test_dataset:   # cross-corpus: both corpora onto the shared classes
            train_corpus = "manifest" if cfg.data.manifest else dataset
            df, labels, class_names, test_df = cross_corpus_data(
                df, labels, class_names, train_corpus, cfg.data.test_dataset,
                cfg.data.test_data, cfg.data.label_map)
            print(f"cross-corpus: {len(df)} {dataset} clips for training and the in-corpus "
                  f"test, {len(test_df)} {cfg.data.test_dataset} clips for the cross-corpus "
                  f"test, classes {class_names} ({crosscorpus.describe(cfg.data.label_map)})")
        # recordings with the same decoded samples, found by content (cached with the features)
        df = duplicates.annotate(df.assign(_label=labels), cfg.data.cache_dir,
                                 speaker_col="speaker" if "speaker" in df.columns else None)
        df = duplicates.apply_policy(df, cfg.data.duplicates, out_dir=out, label_col="_label")
    except (FileNotFoundError, ValueError) as err:       # bad folder, names, manifest, refuse
        print(f"error: {err}", file=sys.stderr)
        return 2
    labels = df.pop("_label").to_numpy()
    if "speaker_group" not in df.columns:
        df["speaker_group"] = df["dup_group"].astype(str)
    if len(np.unique(labels)) < 2:
        print(f"error: the data holds a single {cfg.data.target} class; nothing to classify",
              file=sys.stderr)
        return 2
    paths = df["path"].tolist()
    try:
        folds = make_splits(df, labels, class_names, cfg)
    except ValueError as err:                            # e.g. more folds than speakers
        print(f"error: {err}", file=sys.stderr)
        return 2
    shares = "/".join(f"{round(100 * f)}" for f in cfg.data.fractions)
    loso = cfg.data.folds and cfg.data.folds == df["speaker_group"].nunique()
    protocol = (f"leave-one-speaker-out ({cfg.data.folds} folds)" if loso else
                f"{cfg.data.folds}-fold speaker-independent" if cfg.data.folds else
                f"speaker-independent {shares}" if cfg.data.split == "speaker" else
                f"random stratified {shares}")
    print(f"{protocol} | recipe: {recipe_line(cfg)}")

    results = []
    for fold_i, split in enumerate(folds):
        prepared = None
        for lr in lrs:
            cfg.train.lr = lr
            run_dir = out / (f"lr{lr:g}" if len(lrs) > 1 else "") / (
                f"fold{fold_i + 1}" if len(folds) > 1 else "")
            fingerprint = runs.fingerprint({**run_settings(cfg), "fold": fold_i + 1},
                                           df["content_hash"], labels, split)
            if cfg.resume:                     # same data and settings, before any write
                runs.check_resume(run_dir, fingerprint)
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.json").write_text(json.dumps(
                {**to_dict(cfg), "source": source, "demo": demo, "protocol": protocol,
                 "recipe_line": recipe_line(cfg),
                 "fold": fold_i + 1}, indent=2))
            write_split(run_dir, split, df)
            print(f"\n=== {protocol}, fold {fold_i + 1}/{len(folds)}, lr {lr:g} -> {run_dir}")
            state["run_dir"] = run_dir

            # features; augmented copies of training clips only; training-only statistics
            t0 = time.perf_counter()
            if prepared is None:
                prepared = prepare(paths, labels, split, cfg.features,
                                   copies=cfg.augment.copies, snr_db=cfg.augment.snr_db,
                                   oversample=cfg.augment.oversample, seed=cfg.seed,
                                   cache_dir=cfg.data.cache_dir,
                                   groups=df["dup_group"].to_numpy(),
                                   normalize=cfg.data.normalize,
                                   speakers=df["speaker_group"].to_numpy(),
                                   speed=cfg.augment.speed, vtlp=cfg.augment.vtlp,
                                   on_disk=cfg.data.features_on_disk)
            train, val, test, standardizer = prepared
            meta = {"class_names": [str(c) for c in class_names],
                    "feature_config": cfg.features.to_dict(), "normalize": cfg.data.normalize,
                    "standardizer": standardizer.state_dict() if standardizer else None,
                    "dataset": dataset,
                    "target": cfg.data.target, "protocol": protocol,
                    "fingerprint": fingerprint}
            try:
                result, model = train_model(cfg, train, val, len(class_names), run_dir, meta)
            except TrainingDiverged as exc:  # a large learning rate: report it, go on
                print(f"lr {lr:g}, fold {fold_i + 1}: {exc}")
                results.append({"lr": lr, "fold": fold_i + 1, "run_dir": str(run_dir),
                                "diverged": str(exc)})
                continue
            metrics = test_and_report(model, test, class_names, result, run_dir, paths, extra={
                "n_train": len(train), "n_train_augmented": int(train.augmented.sum()),
                "n_val": len(val), "n_test": len(test),
                "session_seconds": time.perf_counter() - t0})
            if test_df is not None:     # the same model on every clip of the other corpus
                cross = test_on_corpus(
                    model, test_df, class_names, cfg.features, run_dir, cfg.data.test_dataset,
                    cfg.data.label_map, normalize=cfg.data.normalize, standardizer=standardizer,
                    cache_dir=cfg.data.cache_dir, run_metrics=metrics)
                print(f"cross-corpus test on {cfg.data.test_dataset} ({cross['n']} clips): UA "
                      f"{cross['ua']:.4f}, WA {cross['wa']:.4f}, macro F1 "
                      f"{cross['macro_f1']:.4f}")
            metrics.update(lr=lr, fold=fold_i + 1, run_dir=str(run_dir))
            results.append(metrics)
            print(f"test UA {metrics['ua']:.4f}, WA {metrics['wa']:.4f}, macro F1 "
                  f"{metrics['macro_f1']:.4f} "
                  f"(best epoch {metrics['best_epoch']}, {metrics['train_seconds'] / 60:.1f} min)")
            print((run_dir / "report.txt").read_text())

    print_summary(results, cfg, lrs, protocol, dataset, demo, time.perf_counter() - t_start, out)
    return 0


def train_model(cfg: ExperimentConfig, train, val, n_classes: int, run_dir: Path, meta: dict):
    """The model and its training loop; returns the history and the best-validation model."""
    mt_random.manual_seed(cfg.seed)                      # the model's initial weights
    _, _, n_mels, n_frames = train.X.shape               # (N, 1, n_mels, n_frames)
    model = ParallelCNNLSTMAttention(n_classes=n_classes, n_mels=n_mels, n_frames=n_frames,
                                     **cfg.model.options)
    print(f"train {len(train)} rows ({int(train.augmented.sum())} augmented copies), "
          f"val {len(val)}; input {train.X.shape[1:]}; "
          f"{sum(p.size for p in model.parameters()):,} parameters")
    optimizer = make_optimizer(model, cfg.train)         # Adam (or SGD)
    scheduler = make_scheduler(optimizer, cfg.train)     # ReduceLROnPlateau on validation loss
    loader = DataLoader(train.X, train.y, batch_size=cfg.train.batch_size, shuffle=True,
                        seed=cfg.seed)
    weight = class_weight_vector(train.y, n_classes, cfg.train.class_weights)  # or None
    masks = (SpecAugment(cfg.augment.freq_masks, cfg.augment.freq_mask_width,
                         cfg.augment.time_masks, cfg.augment.time_mask_width)
             if cfg.augment.spec_augment else None)      # fresh masks on every batch
    averaged = make_averaged(model, cfg.train)           # weight average (--ema-decay) or None
    run = TrainingRun(run_dir, model, optimizer, scheduler, loader, cfg.train, meta, averaged)
    first = run.resume(cfg.seed) if cfg.resume else run.start(cfg.seed)
    for epoch in range(first, cfg.train.epochs + 1):
        if run.should_stop():                            # early stopping on cfg.train.monitor
            break
        model.train()
        meter = EpochMeter(len(loader), epoch, cfg.train.epochs, cfg.train.progress)
        for i, (xb, yb) in enumerate(loader, start=1):
            # (masks, mixup,) forward (B, K), cross-entropy (label smoothing, class weights)
            loss, logits = batch_loss(model, xb, yb, cfg.train, weight=weight,
                                      mixup=cfg.augment.mixup, spec_augment=masks)
            run.check_loss(loss.item(), xb, epoch, i)    # NaN/inf: TrainingDiverged
            optimizer.zero_grad()
            loss.backward()
            run.check_gradients(epoch, i)
            clip_gradients(model, cfg.train)
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)
            if cfg.train.scheduler == "exponential":    # a per-batch decay
                scheduler.step()
            meter.update(loss.item(), logits, yb)
        val_result = evaluate(run.evaluated, val.X, val.y, batch_size=max(cfg.train.batch_size, 64))
        lr = optimizer.param_groups[0]["lr"]
        if cfg.train.scheduler == "plateau":
            scheduler.step(val_result.loss)
        run.end_epoch(epoch, meter, val_result, lr, val.X)   # history, best.ckpt, last.ckpt
    if cfg.train.restore_best:
        run.restore_best()
    return run.result, model


def print_summary(results, cfg, lrs, protocol, dataset, demo, seconds, out: Path) -> None:
    """The table of every run, and mean +- std over folds; ``summary.json``."""
    print(f"\n{dataset} | target {cfg.data.target} | {protocol} | "
          f"{cfg.model.options} | {cfg.train.optimizer} | seed {cfg.seed} | "
          f"total {seconds / 60:.1f} min")
    print(f"{'lr':>8} {'fold':>5} {'test UA':>8} {'WA':>7} {'macro F1':>9} {'UA 95% CI':>17} "
          f"{'best epoch':>11} {'epochs':>7}")
    for r in results:
        if "diverged" in r:
            print(f"{r['lr']:>8g} {r['fold']:>5}   diverged (non-finite loss; see its run folder)")
            continue
        lo, hi = r["ci95"]["ua"]
        print(f"{r['lr']:>8g} {r['fold']:>5} {r['ua']:>8.4f} {r['wa']:>7.4f} {r['macro_f1']:>9.4f} "
              f"  [{lo:.3f}, {hi:.3f}] {r['best_epoch']:>11} {r['epochs_run']:>7}")
    summary = {"dataset": dataset, "protocol": protocol, "demo": demo,
               "target": cfg.data.target, "recipe": recipe_line(cfg), "runs": results}
    for lr in lrs:
        finished = [r for r in results if r["lr"] == lr and "diverged" not in r]
        if len(finished) > 1:      # K folds: mean +- std (population) and the pooled matrix
            folds = M.summarize_folds(finished)
            print(f"lr {lr:g}: UA {folds['ua_mean']:.4f} +- {folds['ua_std']:.4f}, WA "
                  f"{folds['wa_mean']:.4f} +- {folds['wa_std']:.4f}, macro F1 "
                  f"{folds['macro_f1_mean']:.4f} +- {folds['macro_f1_std']:.4f} over "
                  f"{folds['n_folds']} folds; pooled over the folds' test clips: UA "
                  f"{folds['pooled']['ua']:.4f}, WA {folds['pooled']['wa']:.4f}")
            pooled = np.asarray(folds["pooled"]["confusion_matrix"])
            names = folds["pooled"]["class_names"]
            print("pooled confusion matrix (rows true, columns predicted): "
                  + "; ".join(f"{n}: {' '.join(map(str, row))}" for n, row in zip(names, pooled)))
            crossed = [r["cross"] for r in finished if "cross" in r]
            if crossed:
                folds["cross"] = {f"{k}_{s}": float(f(np.array([c[k] for c in crossed])))
                                  for k in ("ua", "wa", "macro_f1")
                                  for s, f in (("mean", np.mean), ("std", np.std))}
                print(f"cross-corpus test on {cfg.data.test_dataset}: UA "
                      f"{folds['cross']['ua_mean']:.4f} +- {folds['cross']['ua_std']:.4f}, WA "
                      f"{folds['cross']['wa_mean']:.4f} +- {folds['cross']['wa_std']:.4f}")
            summary[f"lr{lr:g}"] = folds
            where = out / (f"lr{lr:g}" if len(lrs) > 1 else "")
            where.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(pooled, index=[f"true_{n}" for n in names],
                         columns=[f"pred_{n}" for n in names]).to_csv(
                where / "pooled_confusion_matrix.csv")
    (out / "summary.json").write_text(M.to_json(summary))


if __name__ == "__main__":
    runs.plain_warnings()
    sys.exit(main())
