"""Throughput of the dsp front end with the first (BAVED) paper's parameters.

Features: 3-s clips at 16 kHz -> log-mel ``power_to_db(melspectrogram(...), ref=np.max)`` with
n_fft=1024, win_length=512 (Hamming), hop_length=256, 128 mels, fmax=8000 -> (128, 188) per clip.

    python benchmarks/bench_dsp.py                       # synthetic batch of 256 clips
    BAVED_DIR=../shared/data/baved python benchmarks/bench_dsp.py   # + every BAVED clip

Reported: clips per second for one batched call on N synthetic clips (best and median of
``--repeats`` runs, after one warm-up), the same done one clip per call (for comparison), the
3-channel log-mel + deltas, and, when BAVED_DIR is set, the time to load every BAVED clip
(``dsp.load(sr=16000)`` + ``standardize`` + ``fix_length``, reported apart) and to compute its
features in batches. Wall-clock times depend on what else the machine is running; the core
count is printed alongside.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import scipy

import dsp

SR = 16000
CLIP_SECONDS = 3
PAPER = dict(sr=SR, n_fft=1024, hop_length=256, win_length=512, window="hamming", n_mels=128, fmax=8000)


def log_mel(Y):
    """(N, 48000) float32 -> (N, 128, 188) float32 log-mel in dB, 0 dB at each clip's peak."""
    return dsp.power_to_db(dsp.melspectrogram(y=Y, **PAPER), ref=np.max)


def synthetic_clips(n_clips, seed=0):
    """Voiced-speech-like clips: a harmonic series on a wandering pitch, plus noise."""
    rng = np.random.default_rng(seed)
    n = SR * CLIP_SECONDS
    t = np.arange(n) / SR
    f0 = rng.uniform(90, 260, size=(n_clips, 1)) * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
    phase = 2 * np.pi * np.cumsum(f0, axis=1) / SR
    y = sum(np.sin(h * phase) / h for h in range(1, 8)) + 0.05 * rng.standard_normal((n_clips, n))
    return dsp.standardize(y.astype(np.float32))


def timed(fn, repeats):
    """Run fn once to warm up, then ``repeats`` times; return the list of wall times (s)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def report(label, n_clips, times):
    best, median = min(times), statistics.median(times)
    print(f"{label:<44s} {n_clips / best:9,.0f} clips/s best   {n_clips / median:9,.0f} clips/s median"
          f"   ({1e3 * best:7.1f} ms / {n_clips} clips)")


def bench_synthetic(n_clips, repeats):
    Y = synthetic_clips(n_clips)
    out = log_mel(Y)
    assert out.shape == (n_clips, 128, 188) and out.dtype == np.float32 and np.isfinite(out).all()
    report(f"log-mel, one batched call (N={n_clips})", n_clips, timed(lambda: log_mel(Y), repeats))
    n_single = min(n_clips, 64)
    report(f"log-mel, one clip per call ({n_single} clips)", n_single,
           timed(lambda: [log_mel(y) for y in Y[:n_single]], max(1, repeats // 2)))
    report(f"log-mel + delta + delta-delta (N={n_clips})", n_clips,
           timed(lambda: dsp.logmel_deltas(y=Y, **PAPER), repeats))


def bench_baved(root, batch):
    paths = sorted(Path(root).rglob("*.wav"))
    if not paths:
        print(f"BAVED_DIR={root}: no .wav files found")
        return
    start = time.perf_counter()
    clips = [dsp.fix_length(dsp.standardize(dsp.load(p, sr=SR)[0]), SR * CLIP_SECONDS) for p in paths]
    load_time = time.perf_counter() - start
    Y = np.stack(clips)

    def features():
        return [log_mel(Y[i:i + batch]) for i in range(0, len(Y), batch)]

    feature_times = timed(features, 3)
    out = np.concatenate(features())
    assert out.shape == (len(paths), 128, 188) and np.isfinite(out).all()
    print(f"BAVED: {len(paths)} clips under {root}")
    print(f"{'  loading (load sr=16000, standardize, pad 3 s)':<44s} {len(paths) / load_time:9,.0f} clips/s"
          f"           ({load_time:.2f} s total)")
    report(f"  log-mel features, batches of {batch}", len(paths), feature_times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="synthetic batch size (default 256)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs after the warm-up (default 7)")
    args = parser.parse_args()

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {os.cpu_count()} cores ({affinity} usable), {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average before the run: {load:.2f} (other processes share these cores)")
    print(f"features: {CLIP_SECONDS}-s clips at {SR} Hz, n_fft=1024, win_length=512 hamming, hop=256, "
          f"128 mels, fmax=8000, power_to_db(ref=np.max) -> (128, 188) float32 per clip")
    bench_synthetic(args.batch, args.repeats)
    root = os.environ.get("BAVED_DIR")
    if root:
        bench_baved(root, args.batch)
    else:
        print("BAVED_DIR not set: skipping the real-data figures")


if __name__ == "__main__":
    main()
