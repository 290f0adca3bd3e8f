"""Command line of a trained model: ``python -m minitorch_ser {predict, stream, explain,
convert, export}``.

Usage::

    # label and class probabilities per file, as a table or JSON
    python -m minitorch_ser predict runs/baved_random a.wav b.flac c.wav
    python -m minitorch_ser predict runs/baved_random/best.ckpt *.wav --json
    # a cross-validation folder (fold1 .. foldK, or its only lr sweep folder): the mean of the
    # K folds' class probabilities
    python -m minitorch_ser predict runs/baved_cv a.wav b.flac

    # a timeline over a long recording: one line per window as it is scored, and a CSV
    python -m minitorch_ser stream runs/baved_random talk.wav --window 3.0 --hop 0.5 --csv t.csv
    # live: raw 16-bit little-endian mono PCM on standard input (at the checkpoint's rate,
    # or say which with --sr)
    arecord -q -f S16_LE -c 1 -r 16000 -t raw | python -m minitorch_ser stream runs/baved_random -

    # attention weights over time (and, with matplotlib, a PNG of them under the log-mel)
    python -m minitorch_ser explain runs/baved_random a.wav --png a_attention.png

    # rewrite a pickle checkpoint of an older minitorch-ser (unpickling runs code: only for
    # files you trust) in the current arrays-and-JSON format, in place or to NEW
    python -m minitorch_ser convert runs/old_run/best.ckpt --trusted
    python -m minitorch_ser convert old.ckpt new.ckpt --trusted
    python -m minitorch_ser convert runs/old_run --trusted        # every *.ckpt of a run folder

    # the model's weights for PyTorch (needs pip install -e ".[export]"): model.safetensors
    # (the state_dict under PyTorch's names) and model.json (class names, features, statistics)
    python -m minitorch_ser export runs/baved_random model.safetensors [--overwrite]

RUN_DIR_OR_CHECKPOINT is a run folder (its ``best.ckpt`` is read) or a checkpoint file; or a
cross-validation folder without ``best.ckpt`` holding run folders ``fold1 .. foldK`` (directly,
or in its only sweep folder such as ``lr0.001/``): ``predict`` and ``stream`` then average the
class probabilities of the K models, ``p = (1/K) sum_m softmax(z^(m))`` (the table's first line
and the JSON's ``"models"`` say how many); ``explain`` refuses it (name one fold's folder).

A model trained with features normalized per speaker (``normalize`` "speaker") normalizes the
files given to one ``predict`` together, as ONE speaker (there is no speaker label at
prediction time): each file's prediction depends on the others given with it. Pass one
speaker's files together; a note on standard error says so. ``stream`` refuses such a model
(one window at a time is not a speaker's recordings).

Exit status: 0 when everything was predicted; 1 when an input could not be read (``predict``
still predicts every other file, and reports each failure by name on standard error and, with
``--json``, as an ``{"file", "error"}`` entry) or an output (``--csv``, ``--npz``, ``--png``)
could not be written (missing folders are created); 2 for a bad command line, an unusable
checkpoint or fold folder (the message says what differs), a model ``stream`` or ``explain``
cannot use, or ``stream -`` receiving no samples.

A file that decodes shorter than its header declares (cut short) is used as far as it decodes,
with a ``warning:`` line naming it; the durations reported are those of the decoded samples.

``convert`` exits with 0 when every file was converted or was already in the current format,
and 2 without ``--trusted`` or for a file it cannot convert (the message says why).

``export`` (``minitorch_ser.app.export``) exits with 0 once both files are written; 1 when one
cannot be written; 2 for an unusable checkpoint, a cross-validation folder (export one fold's
folder), an OUT not ending in ``.safetensors``, an existing OUT or sidecar without
``--overwrite``, or safetensors not installed.

``predict`` sees each file as training saw its clips: shorter ones zero-padded, longer ones
trimmed to the training clip length (a note on standard error names those); ``stream`` is the
way to follow a longer recording. Its windows and the padding of the last one are described in
``minitorch_ser.app.inference``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from dsp import AudioLoadError

from . import plots
from .checkpoint import CheckpointError, convert_legacy, is_pickle, load_checkpoint
from .cli_types import positive_int
from .export import MissingExtraError, export
from .inference import Predictor, StreamStats, read_pcm16


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m minitorch_ser``: sub-commands predict, stream, explain, convert,
    export."""
    parser = argparse.ArgumentParser(
        prog="python -m minitorch_ser", description="Use a trained minitorch-ser model.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Usage::")[1])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "predict", help="label and class probabilities of audio files",
        description="Label and class probabilities of audio files. RUN_DIR_OR_CHECKPOINT may "
                    "be a cross-validation folder (fold1 .. foldK): the mean of the folds' "
                    "probabilities. A model normalized per speaker normalizes all the FILEs "
                    "together as ONE speaker (transductive: pass one speaker's files together).")
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="run folder, checkpoint file, or cross-validation folder of folds")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="audio files (for a per-speaker model: one speaker's)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    s = sub.add_parser("stream", help="sliding-window predictions over a long recording",
                       description="Sliding-window predictions over a long recording (refused "
                                   "for a model normalized per speaker).")
    s.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    s.add_argument("file", metavar="FILE", help="audio file, or - for raw 16-bit little-endian "
                                                "mono PCM on standard input")
    s.add_argument("--window", type=float, default=None,
                   help="window length in seconds (default: the training clip length)")
    s.add_argument("--hop", type=float, default=0.5, help="seconds between windows (0.5)")
    s.add_argument("--csv", metavar="OUT", help="also write the timeline to this CSV file")
    s.add_argument("--sr", type=positive_int, default=None,
                   help="sample rate of the PCM on standard input (default: the checkpoint's)")

    e = sub.add_parser("explain", help="attention weights over time of one file",
                       description="Attention weights over time of one file (one model: not "
                                   "a cross-validation folder).")
    e.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT")
    e.add_argument("file", metavar="FILE")
    e.add_argument("--png", metavar="OUT", help="write the log-mel and the weights as a PNG "
                                                "(needs matplotlib)")
    e.add_argument("--npz", metavar="OUT", help="write mel, weights and step times as .npz")

    c = sub.add_parser("convert", help="rewrite a pickle checkpoint of an older version in the "
                                       "current format (only for files you trust)")
    c.add_argument("old", metavar="OLD", help="pickle checkpoint, or a run folder (each of its "
                                              "*.ckpt is converted in place)")
    c.add_argument("new", metavar="NEW", nargs="?", default=None,
                   help="where to write (default: replace OLD once the new file is complete)")
    c.add_argument("--trusted", action="store_true",
                   help="required: reading the old format unpickles the file, which runs any "
                        "code its author put in it")

    x = sub.add_parser("export", help="write the model's weights as .safetensors for PyTorch, "
                                      "with a JSON sidecar",
                       description="Write the model's state_dict (PyTorch's names and layouts) "
                                   "as OUT.safetensors and what it needs around it (class "
                                   "names, feature config, normalization statistics) as "
                                   "OUT.json. One model: not a cross-validation folder. Needs "
                                   "safetensors: pip install -e \".[export]\".")
    x.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT",
                   help="run folder or checkpoint file (one fold's folder of a cross-validation)")
    x.add_argument("out", metavar="OUT", help="the weights file, ending in .safetensors")
    x.add_argument("--overwrite", action="store_true",
                   help="replace OUT and its sidecar if they exist")
    return parser


def main(argv=None, stdin=None, stdout=None, stderr=None) -> int:
    """Run the command line; return the exit status (see the module docstring).

    Parameters
    ----------
    argv : list of str or None
        The arguments after the program name, e.g. ``["predict", "runs/x", "a.wav"]``
        (``None``: ``sys.argv[1:]``).
    stdin : binary file object or None
        Raw 16-bit PCM for ``stream -`` (``None``: ``sys.stdin.buffer``, opened only then).
    stdout, stderr : text file object or None
        Where results and messages go (``None``: ``sys.stdout``, ``sys.stderr``); tests pass
        their own.

    Returns
    -------
    int in {0, 1, 2}
        0: everything done; 1: an input could not be read or an output could not be written;
        2: an unusable checkpoint or fold folder, a refused ``convert`` or ``export``, a bad
        ``--sr`` / ``--window`` / ``--hop``, a model without attention or an ensemble for
        ``explain``, a per-speaker model for ``stream``, or no samples on ``stream -``.

    Raises
    ------
    SystemExit
        From ``argparse``: status 2 for a bad command line (the usage and the error on
        ``sys.stderr``, not on ``stderr``), status 0 after ``-h``.
    """
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    args = build_parser().parse_args(argv)
    if args.command == "convert":
        return _convert(args, stdout, stderr)
    if args.command == "export":
        return _export(args, stdout, stderr)
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
    with _warnings_to(stderr):              # e.g. a truncated file: what decoded is used
        results = predictor.predict_files(args.files)
    if predictor.normalize == "speaker":
        n = sum(r.ok for r in results)
        print(f"note: {predictor.source} normalizes features per speaker; the {n} file(s) "
              f"given were normalized as one speaker: pass one speaker's files together",
              file=stderr)
    for r in results:
        if not r.ok:
            print(f"error: {_named(r)}", file=stderr)
        elif r.trimmed:
            print(f"note: {r.source} lasts {r.duration:.2f} s; the model saw its first "
                  f"{r.clip_duration:g} s (the training clip length); use `stream` for long "
                  f"recordings", file=stderr)
    if args.json:
        json.dump({"checkpoint": predictor.source, "models": predictor.n_models,
                   "checkpoints": list(predictor.checkpoints),
                   "normalize": predictor.normalize,
                   "class_names": list(predictor.class_names),
                   "results": [r.to_dict() for r in results]}, stdout, indent=2)
        print(file=stdout)
    else:
        if predictor.n_models > 1:
            print(f"# mean class probabilities of {predictor.n_models} models: "
                  f"{', '.join(predictor.checkpoints)}", file=stdout)
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
    sr = predictor.feature_config.sr if args.sr is None else args.sr
    try:
        with _warnings_to(stderr):
            if live:
                # read one hop at a time: a window is scored as soon as its last sample arrives
                chunk = max(1, int(round(args.hop * sr)))
                windows = predictor.stream(read_pcm16(stdin, chunk), window=args.window,
                                           hop=args.hop, sr=sr, stats=stats)
            else:
                windows = predictor.stream(args.file, window=args.window, hop=args.hop,
                                           stats=stats)
            first = next(windows, None)    # for live input: wait for the first full window
    except AudioLoadError as err:
        print(f"error: {err}", file=stderr)
        return 1
    except ValueError as err:          # window, hop or --sr out of range; a per-speaker model
        print(f"error: {err}", file=stderr)
        return 2
    if first is None:                  # a file holds samples (dsp.load checks); stdin may not
        print(f"error: standard input: no samples were received; stream - expects raw 16-bit "
              f"little-endian mono PCM at {sr} Hz (set the rate with --sr), e.g. "
              f"arecord -q -f S16_LE -c 1 -r {sr} -t raw | python -m minitorch_ser stream "
              f"{args.checkpoint} -", file=stderr)
        return 2
    windows = itertools.chain([first], windows)
    out = None
    if args.csv:
        out, failed = _save(args.csv, lambda: open(args.csv, "w", newline=""), stderr)
        if failed:
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
    models = f"; mean of {predictor.n_models} models" if predictor.n_models > 1 else ""
    print(f"{stats.windows} windows over {stats.audio_seconds:.2f} s of audio; compute "
          f"{stats.compute_seconds:.2f} s, real-time factor {stats.real_time_factor:.3f}"
          f"{models}", file=stderr)
    return 0


# ==================================================================================== explain
def _explain(predictor: Predictor, args, stdout, stderr) -> int:
    try:
        with _warnings_to(stderr):
            ex = predictor.explain(args.file)
    except AudioLoadError as err:
        print(f"error: {err}", file=stderr)
        return 1
    except ValueError as err:          # the model has no attention weights; an ensemble
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
    status = 0
    if args.npz:
        path = args.npz if args.npz.endswith(".npz") else args.npz + ".npz"  # as np.savez names it
        _, failed = _save(path, lambda: np.savez(
            path, mel=ex.mel, weights=ex.weights, step_start_s=ex.step_start_s,
            step_end_s=ex.step_end_s, probabilities=r.probabilities,
            class_names=np.array(r.class_names), hop_seconds=ex.hop_seconds), stderr)
        if not failed:
            print(f"wrote {path}", file=stderr)
        status = max(status, failed)
    if args.png:
        written, failed = _save(args.png, lambda: plots.spectrogram_with_weights(
            ex.mel, ex.weights, args.png, ex.hop_seconds, title=f"{r.source}: {r.label}"), stderr)
        status = max(status, failed)
        if not failed and written is None:
            print("note: matplotlib is not installed; no PNG written "
                  "(pip install matplotlib, or use --npz for the numbers)", file=stderr)
        elif not failed:
            print(f"wrote {written}", file=stderr)
    return status


# ===================================================================================== output
@contextlib.contextmanager
def _warnings_to(stderr):
    """Print the warnings raised inside the block as ``warning: <message>`` lines on ``stderr``
    (e.g. ``dsp.io.AudioTruncatedWarning``: a file cut short, of which what decoded is used)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                print(f"warning: {w.message}", file=stderr)


def _save(path: str, save, stderr) -> tuple[object, int]:
    """Create the folder an output file goes into, then call ``save()``.

    Returns ``(save's result, 0)``, or ``(None, 1)`` after printing ``error: cannot write
    <path>: <reason>`` on ``stderr`` when the folder or the file cannot be written.
    """
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return save(), 0
    except OSError as err:
        print(f"error: cannot write {path}: {err}", file=stderr)
        return None, 1


# ==================================================================================== convert
def _convert(args, stdout, stderr) -> int:
    """Convert OLD (a file, or every ``*.ckpt`` of a run folder) from the pickle format."""
    if not args.trusted:
        print(f"error: not converting {args.old}: reading the old checkpoint format unpickles "
              f"the file, and a pickle can run any code when read. If you trust the file (you "
              f"or a source you trust wrote it), run the command again with --trusted",
              file=stderr)
        return 2
    old = Path(args.old)
    if old.is_dir():
        if args.new is not None:
            print(f"error: {old} is a folder, converted in place; NEW applies to one file",
                  file=stderr)
            return 2
        sources = sorted(old.glob("*.ckpt"))
        if not sources:
            print(f"error: {old} holds no *.ckpt file", file=stderr)
            return 2
    else:
        sources = [old]
    status = 0
    for src in sources:
        dst = src if args.new is None else Path(args.new)
        try:
            if src.is_file() and not _starts_like_pickle(src):
                load_checkpoint(src)               # refuses what is not a current checkpoint
                unwritten = "" if dst == src else f"; {dst} not written"
                print(f"{src}: already in the current format, left as it is{unwritten}",
                      file=stdout)
                continue
            convert_legacy(src, dst, trusted=True)
        except (CheckpointError, OSError) as err:
            print(f"error: {err}", file=stderr)
            status = 2
            continue
        print(f"{src}: converted, wrote {dst}", file=stdout)
    return status


def _starts_like_pickle(path: Path) -> bool:
    with open(path, "rb") as f:
        return is_pickle(f.read(2))


# ===================================================================================== export
def _export(args, stdout, stderr) -> int:
    """Write OUT.safetensors and OUT.json from one model's checkpoint."""
    try:
        done = export(args.checkpoint, args.out, overwrite=args.overwrite)
    except (CheckpointError, ValueError, FileExistsError, MissingExtraError) as err:
        print(f"error: {err}", file=stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=stderr)
        return 1
    print(f"wrote {done['path']}: {done['tensors']} tensors, {done['parameters']:,} parameters "
          f"({done['model_class']}, from {done['source']})", file=stdout)
    print(f"wrote {done['sidecar']}: model config, class names, feature config, normalization",
          file=stdout)
    return 0
