"""Inference speed of the BAVED model: ms per 3-s window, and the real-time factor of stream.

Run (targets are for one core, so pin BLAS to one thread)::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_inference.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_inference.py --checkpoint runs/baved_random
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_inference.py --profile

Measured:

1. **per window** (target < 30 ms): one 3-s clip, batch 1, through ``Predictor.predict_waves``:
   ``prepare_wave`` (fix_length), log-mel features, standardization, the forward pass and the
   softmax. The features and the forward pass are also timed alone. Median and minimum of
   ``--repeats`` runs after two warm-up runs.
2. **stream** (target: real-time factor < 0.05): ``Predictor.stream`` over a 60-s recording
   (generated vowels, written to a 16-bit WAV file and streamed from it, as the command line
   does) with 3-s windows every 0.5 s: 115 windows. Real-time factor = compute seconds / 60 s
   (loading the file included), median and minimum of 3 runs. Shown for the default batch of
   16 windows and for batch 1.

The model is the paper's full-size ``ParallelCNNLSTMAttention()`` (16, 32, 64, 64 filters,
BiLSTM 128, 4 heads: 3 classes, input (1, 128, 188)) with random weights and statistics fitted
on a few generated clips (timing does not depend on the values), or a trained checkpoint with
``--checkpoint``. The machine may be shared: the load average is printed with the figures.

Side by side (``pip install -e ".[bench]"``; without it ours only, and a line saying the peer
is missing): the per-window figures are also taken for the same pipeline built from the peers,
timed alternately with ours: librosa's log-mel (``melspectrogram`` + ``power_to_db``, and
``feature.delta`` for 3-channel checkpoints), the same standardization, and the model's PyTorch
twin (``torch_twins.py``, with the checkpoint's weights) on as many threads as
``OPENBLAS_NUM_THREADS`` gives NumPy (2 when unset). The ratio is **time ours / time peer**
of the medians (below 1: ours faster). The stream figures are ours only.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time

import numpy as np
import soundfile as sf

from minitorch_ser.data import synthetic
from minitorch_ser.data.features import FeatureConfig, Standardizer, waves_to_features
from minitorch_ser.app.inference import Predictor, StreamStats
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.autograd.tensor import Tensor, no_grad

import side_by_side as peers

TARGET_MS_PER_WINDOW = 30.0
TARGET_RTF = 0.05


def speech(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Generated vowels of 0.8-2 s, changing emotion and word, back to back."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0.0
    i = 0
    while total < seconds:
        d = rng.uniform(0.8, 2.0)
        parts.append(synthetic.synthesize_vowel(d, rng.uniform(110, 230),
                                                synthetic.WORD_FORMANTS[i % 7],
                                                synthetic.BAVED_PROSODY[i % 3], sr, rng))
        total += d
        i += 1
    return np.concatenate(parts)[:int(round(seconds * sr))].astype(np.float32)


def random_predictor() -> Predictor:
    """The paper's model with random weights; statistics of a few generated clips."""
    manual_seed(0)
    cfg = FeatureConfig()
    model = ParallelCNNLSTMAttention()
    clips = np.stack([speech(cfg.duration, cfg.sr, seed=s) for s in range(8)])
    standardizer = Standardizer().fit(waves_to_features(clips, cfg))
    return Predictor(model, ["low", "neutral", "high"], cfg, standardizer)


def timed(fn, repeats: int) -> np.ndarray:
    """Seconds per call of ``fn`` over ``repeats`` runs, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.array(times)


def peer_pipeline(predictor: Predictor, torch, librosa):
    """The predictor's features and model built from the peers: ``(features, forward)`` with
    ``features(wave (1, n)) -> X`` (librosa's log-mel, our standardization) and
    ``forward(X) -> probabilities`` (the PyTorch twin, eval mode, no graph)."""
    from torch_twins import twin_of

    cfg = predictor.feature_config
    twin = twin_of(predictor.model).eval()
    kwargs = dict(sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                  win_length=cfg.win_length, window=cfg.window, center=cfg.center,
                  n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax)

    def features(wave):
        S = librosa.feature.melspectrogram(y=wave, **kwargs)                     # (B, F, T)
        L = librosa.power_to_db(S, ref=S.max(axis=(-2, -1), keepdims=True), top_db=cfg.top_db)
        if cfg.deltas:
            X = np.stack([L, librosa.feature.delta(L, width=9, order=1),
                          librosa.feature.delta(L, width=9, order=2)], axis=1)   # (B, 3, F, T)
        else:
            X = L[:, None]                                                        # (B, 1, F, T)
        if cfg.n_frames is not None:
            X = librosa.util.fix_length(X, size=cfg.n_frames, axis=-1)
        return predictor.standardizer.transform(np.ascontiguousarray(X, dtype=np.float32))

    def forward(X):
        with torch.no_grad():
            return twin(torch.from_numpy(X)).softmax(dim=-1).numpy()

    return features, forward


def per_window(predictor: Predictor, repeats: int, torch=None, librosa=None) -> float:
    cfg = predictor.feature_config
    y = speech(cfg.duration, cfg.sr, seed=42)
    wave = predictor.prepare_wave(y, cfg.sr)[None]                 # (1, n_samples)
    X = predictor.features(wave)                                   # (1, 1, 128, 188)

    def forward():
        with no_grad():
            predictor.model(Tensor(X)).softmax(axis=-1)

    rows = [("features (log-mel + standardize)", timed(lambda: predictor.features(wave), repeats)),
            ("forward + softmax", timed(forward, repeats)),
            ("whole window: predict_waves", timed(lambda: predictor.predict_waves(y, cfg.sr),
                                                  repeats))]
    print(f"\nper {cfg.duration:g}-s window, batch 1, input {X.shape[1:]} "
          f"({repeats} runs; median / min ms)")
    for name, t in rows:
        print(f"  {name:<34} {np.median(t) * 1e3:7.2f} / {t.min() * 1e3:7.2f}")
    whole = float(np.median(rows[-1][1]) * 1e3)
    print(f"  target < {TARGET_MS_PER_WINDOW:g} ms: "
          f"{'met' if whole < TARGET_MS_PER_WINDOW else 'NOT met'}")
    if torch is None or librosa is None:
        print(peers.missing(" and ".join(name for name, lib in (("PyTorch", torch),
                                                                 ("librosa", librosa))
                                         if lib is None)))
        return whole

    features, peer_forward = peer_pipeline(predictor, torch, librosa)
    print(f"  side by side, alternately: ours vs librosa + PyTorch ({torch.get_num_threads()} "
          f"thread(s)); median ms, ratio = time ours / time peer")
    pairs = [("features (log-mel + standardize)", lambda: predictor.features(wave),
              lambda: features(wave)),
             ("forward + softmax", forward, lambda: peer_forward(X)),
             ("whole window", lambda: predictor.predict_waves(y, cfg.sr),
              lambda: peer_forward(features(predictor.prepare_wave(y, cfg.sr)[None])))]
    for name, ours, peer in pairs:
        times = peers.alternate({"ours": peers.wall(ours), "peer": peers.wall(peer)}, repeats,
                                warmup=2)
        med = {k: 1e3 * float(np.median([t[0] for t in v])) for k, v in times.items()}
        print(f"  {name:<34} ours {med['ours']:7.2f}   peer {med['peer']:7.2f}   "
              f"ratio {peers.ratio(med['ours'], med['peer']):5.2f}")
    return whole


def stream_rtf(predictor: Predictor, seconds: float, hop: float, profile: bool) -> float:
    cfg = predictor.feature_config
    y = speech(seconds, cfg.sr, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "talk.wav")
        sf.write(path, y, cfg.sr, subtype="PCM_16")
        print(f"\nstream over {seconds:g} s, window {cfg.duration:g} s, hop {hop:g} s "
              f"(compute seconds / audio seconds)")
        results = {}
        for batch in (predictor.batch_size, 1):
            runs = []
            for _ in range(3):
                stats = StreamStats()
                saved, predictor.batch_size = predictor.batch_size, batch
                try:
                    n = sum(1 for _ in predictor.stream(path, hop=hop, stats=stats))
                finally:
                    predictor.batch_size = saved
                runs.append(stats.real_time_factor)
            results[batch] = float(np.median(runs))
            print(f"  batch {batch:>2}: {n} windows, compute {stats.compute_seconds:.2f} s, "
                  f"real-time factor median {np.median(runs):.4f} / min {min(runs):.4f} "
                  f"({stats.compute_seconds / n * 1e3:.1f} ms per window)")
        rtf = results[predictor.batch_size]
        print(f"  target < {TARGET_RTF:g} (median, batch {predictor.batch_size}): "
              f"{'met' if rtf < TARGET_RTF else 'NOT met'}")
        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in predictor.stream(path, hop=hop):
                pass
            profiler.disable()
            print("\nprofile of one stream (top 20 by cumulative time):")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(20)
    return rtf


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="run folder or checkpoint (default: random weights)")
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--hop", type=float, default=0.5)
    p.add_argument("--profile", action="store_true", help="cProfile one stream run")

    p.add_argument("--peer", choices=["auto", "none"], default="auto",
                   help="time librosa + PyTorch beside ours when installed (auto), or not")
    args = p.parse_args(argv)

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    torch = librosa = None
    if args.peer == "auto":
        torch, librosa = peers.torch_peer(), peers.librosa_peer()
        if torch is not None and threads.isdigit():
            torch.set_num_threads(int(threads))        # the same threads as NumPy's BLAS
    print(peers.machine_line(torch))
    print(f"OPENBLAS_NUM_THREADS={threads}; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores (other processes slow these figures down)")
    predictor = Predictor.load(args.checkpoint) if args.checkpoint else random_predictor()
    print(f"model: {type(predictor.model).__name__}({predictor.model.config}) "
          f"from {args.checkpoint or 'random weights'}; "
          f"{sum(q.size for q in predictor.model.parameters()):,} parameters")
    per_window(predictor, args.repeats, torch, librosa)
    stream_rtf(predictor, args.seconds, args.hop, args.profile)


if __name__ == "__main__":
    main()
