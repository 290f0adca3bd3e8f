"""Command line of a trained model: ``python -m minitorch_ser {predict, stream, explain}``.

Usage::

    # label and class probabilities per file, as a table or JSON
    python -m minitorch_ser predict runs/baved_random a.wav b.flac c.wav
    python -m minitorch_ser predict runs/baved_random/best.ckpt *.wav --json

    # a timeline over a long recording: one line per window as it is scored, and a CSV
    python -m minitorch_ser stream runs/baved_random talk.wav --window 3.0 --hop 0.5 --csv t.csv
    # live: raw 16-bit little-endian mono PCM on standard input (at the checkpoint's rate,
    # or say which with --sr)
    arecord -q -f S16_LE -c 1 -r 16000 -t raw | python -m minitorch_ser stream runs/baved_random -

    # attention weights over time (and, with matplotlib, a PNG of them under the log-mel)
    python -m minitorch_ser explain runs/baved_random a.wav --png a_attention.png

RUN_DIR_OR_CHECKPOINT is a run folder (its ``best.ckpt`` is read) or a checkpoint file.

Exit status: 0 when everything was predicted; 1 when an input could not be read (``predict``
still predicts every other file, and reports each failure by name on standard error and, with
``--json``, as an ``{"file", "error"}`` entry); 2 for a bad command line or an unusable
checkpoint (the message says what differs).

``predict`` sees each file as training saw its clips: shorter ones zero-padded, longer ones
trimmed to the training clip length (a note on standard error names those); ``stream`` is the
way to follow a longer recording. Its windows and the padding of the last one are described in
``minitorch_ser.inference``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np

from dsp import AudioLoadError

from . import plots
from .checkpoint import CheckpointError
from .inference import Predictor, StreamStats, read_pcm16


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m minitorch_ser", description="Use a trained minitorch-ser model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Usage::")[1])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="label and class probabilities of audio files")
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    s = sub.add_parser("stream", help="sliding-window predictions over a long recording")
    s.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    s.add_argument("file", metavar="FILE", help="audio file, or - for raw 16-bit little-endian "
                                                "mono PCM on standard input")
    s.add_argument("--window", type=float, default=None,
                   help="window length in seconds (default: the training clip length)")
    s.add_argument("--hop", type=float, default=0.5, help="seconds between windows (0.5)")
    s.add_argument("--csv", metavar="OUT", help="also write the timeline to this CSV file")
    s.add_argument("--sr", type=int, default=None,
                   help="sample rate of the PCM on standard input (default: the checkpoint's)")

    e = sub.add_parser("explain", help="attention weights over time of one file")
    e.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    e.add_argument("file", metavar="FILE")
    e.add_argument("--png", metavar="OUT", help="write the log-mel and the weights as a PNG "
                                                "(needs matplotlib)")
    e.add_argument("--npz", metavar="OUT", help="write mel, weights and step times as .npz")
    return parser


def main(argv=None, stdin=None, stdout=None, stderr=None) -> int:
    """Run the command line; return the exit status (see the module docstring).

    ``stdin`` (binary), ``stdout`` and ``stderr`` (text) default to the process's streams;
    tests pass their own.
    """
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    args = build_parser().parse_args(argv)
    try:
        predictor = Predictor.load(args.checkpoint)
    except CheckpointError as err:
        print(f"error: {err}", file=stderr)
        return 2
    if args.command == "predict":
        return _predict(predictor, args, stdout, stderr)
    if args.command == "stream":
        if stdin is None and args.file == "-":
            stdin = sys.stdin.buffer
        return _stream(predictor, args, stdin, stdout, stderr)
    return _explain(predictor, args, stdout, stderr)


# ==================================================================================== predict
def _predict(predictor: Predictor, args, stdout, stderr) -> int:
    results = predictor.predict_files(args.files)
    for r in results:
        if not r.ok:
            print(f"error: {_named(r)}", file=stderr)
        elif r.trimmed:
            print(f"note: {r.source} lasts {r.duration:.2f} s; the model saw its first "
                  f"{r.clip_duration:g} s (the training clip length); use `stream` for long "
                  f"recordings", file=stderr)
    if args.json:
        json.dump({"checkpoint": predictor.source, "class_names": list(predictor.class_names),
                   "results": [r.to_dict() for r in results]}, stdout, indent=2)
        print(file=stdout)
    else:
        print(_table(results, predictor.class_names), file=stdout)
    return 1 if any(not r.ok for r in results) else 0


def _named(result) -> str:
    """``"<file>: <reason>"`` (the loader's messages already start with the file's name)."""
    if result.error.startswith(f"{result.source}: "):
        return result.error
    return f"{result.source}: {result.error}"


def _table(results, class_names) -> str:
    """Fixed-width table: file, label, one probability column per class; errors on one line."""
    header = ["file", "label", *class_names]
    ok = [[r.source, r.label, *(f"{p:.3f}" for p in r.probabilities)] for r in results if r.ok]
    widths = [max(len(row[j]) for row in [header, *ok]) for j in range(len(header))]
    widths[0] = max([widths[0]] + [len(r.source) for r in results])

    def line(row):
        return "  ".join(f"{c:<{w}}" if j < 2 else f"{c:>{w}}"
                         for j, (c, w) in enumerate(zip(row, widths)))

    lines = [line(header)]
    rows = iter(ok)
    for r in results:
        lines.append(line(next(rows)) if r.ok else
                     f"{r.source:<{widths[0]}}  ERROR: {_named(r)[len(r.source) + 2:]}")
    return "\n".join(lines)


# ===================================================================================== stream
def _stream(predictor: Predictor, args, stdin, stdout, stderr) -> int:
    names = predictor.class_names
    live = args.file == "-"
    if args.sr is not None and not live:
        print("error: --sr applies to raw PCM on standard input; a file has its own rate",
              file=stderr)
        return 2
    stats = StreamStats()
    try:
        if live:
            sr = predictor.feature_config.sr if args.sr is None else args.sr
            # read one hop at a time: a window is scored as soon as its last sample arrives
            chunk = max(1, int(round(args.hop * sr)))
            windows = predictor.stream(read_pcm16(stdin, chunk), window=args.window,
                                       hop=args.hop, sr=sr, stats=stats)
        else:
            windows = predictor.stream(args.file, window=args.window, hop=args.hop, stats=stats)
    except AudioLoadError as err:
        print(f"error: {err}", file=stderr)
        return 1
    except ValueError as err:          # window, hop or --sr out of range
        print(f"error: {err}", file=stderr)
        return 2
    try:
        out = open(args.csv, "w", newline="") if args.csv else None
    except OSError as err:
        print(f"error: cannot write the CSV: {err}", file=stderr)
        return 1
    width = max(len(n) for n in names) + 2
    cols = [max(len(n), 5) for n in names]
    print(f"{'start_s':>8} {'end_s':>8}  {'label':<{width}}"
          + " ".join(f"{n:>{c}}" for n, c in zip(names, cols)), file=stdout, flush=True)
    try:
        writer = csv.writer(out) if out else None
        if writer:
            writer.writerow(["start_s", "end_s", "label", *(f"p_{n}" for n in names)])
        for start, end, p in windows:
            label = names[int(np.argmax(p))]
            print(f"{start:8.2f} {end:8.2f}  {label:<{width}}"
                  + " ".join(f"{x:>{c}.3f}" for x, c in zip(p, cols)), file=stdout, flush=True)
            if writer:
                writer.writerow([f"{start:.4f}", f"{end:.4f}", label, *(f"{x:.6f}" for x in p)])
                out.flush()
    finally:
        if out:
            out.close()
    print(f"{stats.windows} windows over {stats.audio_seconds:.2f} s of audio; compute "
          f"{stats.compute_seconds:.2f} s, real-time factor {stats.real_time_factor:.3f}",
          file=stderr)
    return 0


# ==================================================================================== explain
def _explain(predictor: Predictor, args, stdout, stderr) -> int:
    try:
        ex = predictor.explain(args.file)
    except AudioLoadError as err:
        print(f"error: {err}", file=stderr)
        return 1
    except ValueError as err:          # the model has no attention weights
        print(f"error: {err}", file=stderr)
        return 2
    r = ex.prediction
    if r.trimmed:
        print(f"note: {r.source} lasts {r.duration:.2f} s; explained: its first "
              f"{r.clip_duration:g} s (the training clip length)", file=stderr)
    probs = ", ".join(f"{n} {p:.3f}" for n, p in zip(r.class_names, r.probabilities))
    print(f"{r.source}: {r.label} ({probs})", file=stdout)
    step_ms = (ex.step_end_s[0] - ex.step_start_s[0]) * 1000
    print(f"attention over {len(ex.weights)} steps of {step_ms:.0f} ms "
          f"(weights sum to {ex.weights.sum():.4f}); input log-mel {ex.mel.shape[0]} bands x "
          f"{ex.mel.shape[1]} frames, {ex.mel.min():.1f} to {ex.mel.max():.1f} dB", file=stdout)
    print(f"{'step':>4} {'start_s':>8} {'end_s':>8} {'weight':>8}", file=stdout)
    top = float(ex.weights.max())
    for t, (a, b, w) in enumerate(zip(ex.step_start_s, ex.step_end_s, ex.weights)):
        bar = "#" * int(round(40 * w / top)) if top > 0 else ""
        print(f"{t:4d} {a:8.3f} {b:8.3f} {w:8.4f} {bar}", file=stdout)
    if args.npz:
        np.savez(args.npz, mel=ex.mel, weights=ex.weights, step_start_s=ex.step_start_s,
                 step_end_s=ex.step_end_s, probabilities=r.probabilities,
                 class_names=np.array(r.class_names), hop_seconds=ex.hop_seconds)
        print(f"wrote {args.npz}", file=stderr)
    if args.png:
        written = plots.spectrogram_with_weights(ex.mel, ex.weights, args.png, ex.hop_seconds,
                                                 title=f"{r.source}: {r.label}")
        if written is None:
            print("note: matplotlib is not installed; no PNG written "
                  "(pip install matplotlib, or use --npz for the numbers)", file=stderr)
        else:
            print(f"wrote {written}", file=stderr)
    return 0
