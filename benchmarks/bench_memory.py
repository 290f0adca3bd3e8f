"""Peak memory and time per clip as the corpus grows: features on disk against in memory.

Usage::

    .venv/bin/python benchmarks/bench_memory.py                  # 1,000, 4,000, 16,000 clips
    .venv/bin/python benchmarks/bench_memory.py --sizes 500 2000 --memory-sizes 500
    .venv/bin/python benchmarks/bench_memory.py --root /data/bench_corpus --threads 2

**Corpus.** Generated clips in BAVED's layout (``<word>/<speaker>-<gender>-<age>-<word>-
<level>-<id>.wav``), each a 3-s synthetic vowel at 16 kHz, 16-bit PCM
(``data.synthetic.synthesize_vowel``: 40 speakers, 7 words, 3 emotion levels in turn, so any
first N clips are balanced). Clip ``i`` is drawn from its own generator ``(seed, i)``, so the
corpus is written once under ``--root`` (default: a folder in the system's temporary folder)
and extended, never rewritten, when a larger size is asked for; the first N clips make the
corpus of N. Writing 16,000 clips (1.5 GB) takes about two minutes.

**One run per size and path**, each in a fresh subprocess so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own, with a fresh feature cache
(deleted afterwards) so that the features are computed, not read back:

1. ``prepare(..., copies=0, normalize="global", on_disk=True)``: the features of every clip
   written chunk by chunk into the cache's store, the training set (80 % of the clips,
   random stratified split) into a store of its own, the leak checks, the per-bin statistics
   streamed over the training store (``--features-on-disk`` in the experiment scripts);
   ``on_disk=False`` for the in-memory rows;
2. one epoch of ``training.fit`` (the loop of ``experiments/baved_parallel.py``: Adam, batch
   32, validation after the epoch) on a small ``ParallelCNNLSTMAttention`` (hidden 8, 2
   heads, channels 4, 4, 8, 8: 7 thousand weights, so that the data, not the model, is what
   grows), batches read from the stores and normalized as they are read.

Each run uses one BLAS thread unless told otherwise (``--threads``): the figures are about the
data path, and on a machine shared with other work OpenBLAS's spinning worker threads made a
two-thread epoch up to a hundred times slower in a trial.

Printed per run: the peak RSS (MB), its ratio to the smallest run of the same path, the
seconds of the features (step 1) and of the epoch (step 2), and seconds per clip
((features + epoch) / N). The page cache holding the stores' file pages is the operating
system's, not the process's: it is not in the RSS, and the kernel drops it under pressure.
Targets: on disk, the peak RSS at the largest size within 1.3x of the smallest; seconds per
clip flat, at the largest size within 1.3x of the smallest (a small corpus pays more per clip
for the fixed costs: the model, the first steps, a cold file cache). Other processes on the
machine slow every figure down: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import side_by_side as peers

SR, SECONDS = 16000, 3.0
N_SPEAKERS, N_WORDS, N_LEVELS = 40, 7, 3
TARGET_RSS_RATIO = 1.3
TARGET_TIME_RATIO = 1.3
MODEL = dict(hidden=8, heads=2, channels=(4, 4, 8, 8))
MARKER = "corpus.json"


# ==================================================================================== corpus
def clip(i: int) -> dict:
    """Speaker, gender, age, word and level of clip ``i`` (levels in turn, then speakers,
    then words), and its relative path."""
    level, speaker, word = i % N_LEVELS, (i // N_LEVELS) % N_SPEAKERS, \
        (i // (N_LEVELS * N_SPEAKERS)) % N_WORDS
    gender, age = ("m" if speaker % 2 == 0 else "f"), 18 + speaker % 8
    name = f"{speaker}-{gender}-{age}-{word}-{level}-{i}.wav"
    return {"speaker": speaker, "gender": gender, "word": word, "level": level,
            "path": os.path.join(str(word), name)}


def corpus_rows(root: str, n: int) -> tuple[list, np.ndarray]:
    """Paths and emotion levels (the labels) of the first ``n`` clips."""
    rows = [clip(i) for i in range(n)]
    return ([os.path.join(root, r["path"]) for r in rows],
            np.array([r["level"] for r in rows], dtype=np.int64))


def write_corpus(root: str, n: int, seed: int = 0) -> None:
    """Make sure ``root`` holds the first ``n`` clips (``MARKER`` counts those written)."""
    import soundfile as sf
    from minitorch_ser.data import synthetic
    from minitorch_ser.data.progress import Progress

    marker = os.path.join(root, MARKER)
    have = 0
    if os.path.isfile(marker):
        with open(marker) as f:
            meta = json.load(f)
        have = meta["clips"] if meta.get("seed") == seed else 0
    if have >= n:
        return
    for word in range(N_WORDS):
        os.makedirs(os.path.join(root, str(word)), exist_ok=True)
    voices = np.random.default_rng(seed)        # per speaker: base pitch and formant scale
    f0 = np.where(np.arange(N_SPEAKERS) % 2 == 0, voices.uniform(110, 140, N_SPEAKERS),
                  voices.uniform(190, 240, N_SPEAKERS))
    scale = np.where(np.arange(N_SPEAKERS) % 2 == 0, 1.0, 1.15) * voices.uniform(
        0.95, 1.05, N_SPEAKERS)
    bar = Progress(n - have, f"writing clips {have}..{n - 1} into {root}", "clips")
    for i in range(have, n):
        c = clip(i)
        y = synthetic.synthesize_vowel(SECONDS, f0[c["speaker"]],
                                       synthetic.WORD_FORMANTS[c["word"]] * scale[c["speaker"]],
                                       synthetic.BAVED_PROSODY[c["level"]], SR,
                                       np.random.default_rng([seed, i]))
        sf.write(os.path.join(root, c["path"]), y.astype(np.float32), SR, subtype="PCM_16")
        if (i + 1) % 500 == 0 or i + 1 == n:
            with open(marker, "w") as f:                 # resumable after an interruption
                json.dump({"clips": i + 1, "seed": seed}, f)
            bar.update(i + 1 - have)
    bar.close()


# ======================================================================== one run (child)
def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(root: str, n: int, on_disk: bool, cache: str, batch: int) -> dict:
    """Features, then one epoch, of the first ``n`` clips; timings and peak memory."""
    from minitorch_ser.app.experiment import prepare
    from minitorch_ser.app.training import TrainConfig, fit
    from minitorch_ser.autograd.allocator import keep_freed_memory
    from minitorch_ser.autograd.random import manual_seed
    from minitorch_ser.data.features import FeatureConfig
    from minitorch_ser.data.splits import random_split
    from minitorch_ser.models.parallel import ParallelCNNLSTMAttention

    keep_freed_memory()                              # as the experiment scripts do
    imports_mb = peak_mb()
    paths, labels = corpus_rows(root, n)
    split = random_split(labels, fractions=(0.8, 0.1, 0.1), seed=0)
    t0 = time.perf_counter()
    train, val, _, _ = prepare(paths, labels, split, FeatureConfig(), copies=0, seed=0,
                               cache_dir=cache, progress=False, normalize="global",
                               on_disk=on_disk)
    t1 = time.perf_counter()
    features_mb = peak_mb()
    manual_seed(0)
    model = ParallelCNNLSTMAttention(n_classes=N_LEVELS, **MODEL)
    config = TrainConfig(epochs=1, batch_size=batch, progress=False, patience=0)
    with tempfile.TemporaryDirectory() as run_dir:
        result = fit(model, (train.X, train.y), (val.X, val.y), config, run_dir, seed=0)
    t2 = time.perf_counter()
    return {"n": n, "on_disk": on_disk, "n_train": len(train), "n_val": len(val),
            "imports_mb": imports_mb, "features_mb": features_mb, "peak_mb": peak_mb(),
            "features_s": t1 - t0, "epoch_s": t2 - t1,
            "train_loss": result.history[0]["train_loss"]}


# =========================================================================== driver (parent)
def run_in_subprocess(root: str, n: int, on_disk: bool, batch: int, threads) -> dict:
    env = dict(os.environ)
    if threads is not None:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    cache = tempfile.mkdtemp(prefix=f"cache-{n}-", dir=root)
    cmd = [sys.executable, os.path.abspath(__file__), "--root", root, "--worker", str(n),
           "--path", "disk" if on_disk else "memory", "--cache", cache, "--batch", str(batch)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the run of {n} clips ({'on disk' if on_disk else 'in memory'}) "
                           f"failed (exit {proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000],
                        help="corpus sizes of the on-disk runs")
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[1000, 4000],
                        help="corpus sizes of the in-memory runs, for comparison")
    parser.add_argument("--root", default=os.path.join(tempfile.gettempdir(),
                                                       "minitorch_ser_bench_memory"),
                        help="folder of the generated corpus (written once, reused)")
    parser.add_argument("--batch", type=int, default=32, help="training batch size")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads of each run (default 1; 0: inherit the environment)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated corpus")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=["disk", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.sizes + args.memory_sizes) < 30 or args.batch < 1:
        parser.error(f"sizes {args.sizes + args.memory_sizes} must be >= 30 clips (a split "
                     f"of three classes) and --batch={args.batch} >= 1")

    if args.worker:      # child: one run, one JSON line on stdout
        print(json.dumps(run_worker(args.root, args.worker, args.path == "disk", args.cache,
                                    args.batch)))
        return

    print(peers.machine_line())
    threads = args.threads or os.environ.get("OPENBLAS_NUM_THREADS", "(OpenBLAS default)")
    root = os.path.abspath(args.root)
    write_corpus(root, max(args.sizes + args.memory_sizes), args.seed)
    print(f"corpus: {root}, 3-s clips at 16 kHz; prepare(copies=0, normalize='global'), split "
          f"80/10/10; one epoch of ParallelCNNLSTMAttention{MODEL}, batch {args.batch}; "
          f"BLAS threads: {threads}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    header = (f"{'path':<10}{'clips':>7}{'train':>7}{'peak RSS MB':>13}{'x smallest':>12}"
              f"{'features s':>12}{'epoch s':>10}{'s/clip':>9}")
    print(header)
    print("-" * len(header))
    results = {}
    for on_disk, sizes in ((True, sorted(args.sizes)), (False, sorted(args.memory_sizes))):
        for n in sizes:
            r = run_in_subprocess(root, n, on_disk, args.batch, args.threads or None)
            results[(on_disk, n)] = r
            first = results[(on_disk, sizes[0])]
            per_clip = (r["features_s"] + r["epoch_s"]) / n
            print(f"{'on disk' if on_disk else 'in memory':<10}{n:>7}{r['n_train']:>7}"
                  f"{r['peak_mb']:>13.0f}{r['peak_mb'] / first['peak_mb']:>12.2f}"
                  f"{r['features_s']:>12.1f}{r['epoch_s']:>10.1f}{per_clip:>9.4f}", flush=True)
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    disk = [results[(True, n)] for n in sorted(args.sizes)]
    rss = disk[-1]["peak_mb"] / disk[0]["peak_mb"]
    per_clip = [(r["features_s"] + r["epoch_s"]) / r["n"] for r in disk]
    growth = per_clip[-1] / per_clip[0]
    print(f"on disk, {disk[-1]['n']} vs {disk[0]['n']} clips: peak RSS x{rss:.2f} (target <= "
          f"{TARGET_RSS_RATIO}: {'ok' if rss <= TARGET_RSS_RATIO else 'OVER'}); seconds per "
          f"clip x{growth:.2f} (target <= {TARGET_TIME_RATIO}: "
          f"{'ok' if growth <= TARGET_TIME_RATIO else 'OVER'}; largest and smallest of all "
          f"sizes x{max(per_clip) / min(per_clip):.2f} apart)")
    print(f"(a run's memory after its imports: {disk[0]['imports_mb']:.0f} MB; after the "
          f"features of {disk[-1]['n']} clips on disk: {disk[-1]['features_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
