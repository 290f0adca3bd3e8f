"""Throughput of the dsp front end with the first (BAVED) paper's parameters.

Features: 3-s clips at 16 kHz -> log-mel ``power_to_db(melspectrogram(...), ref=np.max)`` with
n_fft=1024, win_length=512 (Hamming), hop_length=256, 128 mels, fmax=8000 -> (128, 188) per clip.

    python benchmarks/bench_dsp.py                       # synthetic batch of 256 clips
    BAVED_DIR=../shared/data/baved python benchmarks/bench_dsp.py   # + every BAVED clip

Reported: clips per second for one batched call on N synthetic clips (best and median of
``--repeats`` runs, after one warm-up), the same done one clip per call (for comparison), the
3-channel log-mel + deltas, and, when BAVED_DIR is set, the time to load every BAVED clip
(``dsp.load(sr=16000)`` + ``standardize`` + ``fix_length``, reported apart) and to compute its
features in batches. Wall-clock times depend on what else the machine is running; the machine
line (CPU, cores, versions, BLAS threads, load average) is printed first.

Side by side with librosa (``pip install -e ".[bench]"``; without it ours only, and a line
saying the peer is missing): the batched log-mel against ``librosa.feature.melspectrogram``
on the same (N, 48000) batch with the same parameters, then ``librosa.power_to_db`` with each
clip's own peak as reference (``dsp.power_to_db(ref=np.max)`` is per clip in a batch), and the
log-mel + deltas against the same followed by ``librosa.feature.delta`` (width 9, orders 1 and
2) stacked as 3 channels. Ours and librosa's calls alternate, round after round; each row
gives both throughputs and the ratio **time ours / time librosa** of the best runs (below 1:
ours faster), and the largest difference of the outputs in dB (the same numbers, up to float32
rounding).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import scipy

import dsp
import side_by_side as peers

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


def librosa_log_mel(librosa, Y):
    """The same features with librosa: (N, 48000) -> (N, 128, 188), each clip's peak at 0 dB."""
    S = librosa.feature.melspectrogram(y=Y, **PAPER)
    return librosa.power_to_db(S, ref=S.max(axis=(-2, -1), keepdims=True))


def librosa_logmel_deltas(librosa, Y):
    """Log-mel, delta and delta-delta with librosa, stacked: (N, 48000) -> (N, 3, 128, 188)."""
    L = librosa_log_mel(librosa, Y)
    return np.stack([L, librosa.feature.delta(L, width=9, order=1, axis=-1),
                     librosa.feature.delta(L, width=9, order=2, axis=-1)], axis=-3)


def side_by_side(label, n_clips, ours, peer, repeats):
    """Time ``ours()`` and ``peer()`` alternately; print both throughputs, the time ratio and
    the largest difference of their outputs."""
    diff = float(np.abs(ours().astype(np.float64) - peer()).max())
    times = peers.alternate({"ours": peers.wall(ours), "librosa": peers.wall(peer)}, repeats)
    best = {name: min(sum(t) for t in runs) for name, runs in times.items()}
    print(f"{label:<44s} ours {n_clips / best['ours']:7,.0f} clips/s   librosa "
          f"{n_clips / best['librosa']:7,.0f} clips/s   time ours / librosa "
          f"{peers.ratio(best['ours'], best['librosa']):5.2f}   (max |diff| {diff:.1e} dB)")


def bench_synthetic(n_clips, repeats, librosa=None):
    Y = synthetic_clips(n_clips)
    out = log_mel(Y)
    assert out.shape == (n_clips, 128, 188) and out.dtype == np.float32 and np.isfinite(out).all()
    report(f"log-mel, one batched call (N={n_clips})", n_clips, timed(lambda: log_mel(Y), repeats))
    n_single = min(n_clips, 64)
    report(f"log-mel, one clip per call ({n_single} clips)", n_single,
           timed(lambda: [log_mel(y) for y in Y[:n_single]], max(1, repeats // 2)))
    report(f"log-mel + delta + delta-delta (N={n_clips})", n_clips,
           timed(lambda: dsp.logmel_deltas(y=Y, **PAPER), repeats))
    print(f"\nside by side with librosa, best of {repeats} alternating runs:")
    if librosa is None:
        print(peers.missing("librosa"))
        return
    side_by_side(f"log-mel, one batched call (N={n_clips})", n_clips, lambda: log_mel(Y),
                 lambda: librosa_log_mel(librosa, Y), repeats)
    side_by_side(f"log-mel + delta + delta-delta (N={n_clips})", n_clips,
                 lambda: dsp.logmel_deltas(y=Y, **PAPER),
                 lambda: librosa_logmel_deltas(librosa, Y), repeats)


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
    parser.add_argument("--peer", choices=["auto", "none"], default="auto",
                        help="time librosa beside ours when it is installed (auto), or not")
    args = parser.parse_args()
    if args.batch < 1 or args.repeats < 1:
        parser.error(f"--batch={args.batch} and --repeats={args.repeats} must be >= 1")

    librosa = peers.librosa_peer() if args.peer == "auto" else None
    print(peers.machine_line())
    print(f"SciPy {scipy.__version__} (its FFT); features: {CLIP_SECONDS}-s clips at {SR} Hz, "
          f"n_fft=1024, win_length=512 hamming, hop=256, 128 mels, fmax=8000, "
          f"power_to_db(ref=np.max) -> (128, 188) float32 per clip")
    bench_synthetic(args.batch, args.repeats, librosa)
    root = os.environ.get("BAVED_DIR")
    if root:
        bench_baved(root, args.batch)
    else:
        print("BAVED_DIR not set: skipping the real-data figures")


if __name__ == "__main__":
    main()
