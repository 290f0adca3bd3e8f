"""Run folders: one run per folder, one process per run, a resume that continues the same run.

A run folder (``--out``) holds a run once training wrote into it (``RUN_MARKERS``). Then:

- **no clobbering**: starting again without ``--resume`` is refused (``claim``), naming the
  three ways on: ``--resume`` (continue), ``--overwrite`` (delete the run's files, start
  anew) or another ``--out``;
- **one process**: ``claim`` takes an exclusive ``flock`` on ``<out>/.lock`` (which holds the
  owner's process id) for the life of the process; a second run on the same folder is refused
  naming that process. The kernel drops the lock when the process ends, even by ``kill -9``;
- **the same run**: every checkpoint's ``meta["fingerprint"]`` holds a digest of the data (the
  content hash and label of every file, and the split) and the settings; ``check_resume``
  refuses a resume whose fingerprint differs and lists the differences. Only ``EXTENDABLE``
  settings (more epochs, another patience) may change;
- **interruptions**: ``signals_as_exceptions`` turns SIGTERM into ``Interrupted`` (Ctrl-C is
  ``KeyboardInterrupt``); ``interrupted_message`` gives the one line the scripts print, with the
  command that continues, and ``exit_code`` 130 (SIGINT) or 143 (SIGTERM). Checkpoint and
  cache writers remove their temporary files on any exception, these included.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import hashlib
import os
import shlex
import signal
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

RUN_MARKERS = ("last.ckpt", "best.ckpt", "history.csv", "metrics.json")
# files a run writes (deleted by --overwrite, in the folder and its fold/lr sub-folders)
RUN_FILES = RUN_MARKERS + (
    "config.json", "split.csv", "report.txt", "confusion_matrix.csv", "confusion_matrix.png",
    "predictions.csv", "curves.png", "summary.json", "per_class_accuracy.txt", "duplicates.csv")
EXTENDABLE = ("epochs", "patience")
LOCK_NAME = ".lock"


class RunFolderError(ValueError):
    """The run folder cannot be used as asked (it holds a run, is locked, or differs)."""


class Interrupted(BaseException):
    """The process received SIGTERM (``signum``); raised where the program was."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


def _existing_run(out: Path) -> Path | None:
    """First marker file of a run in ``out`` or its sub-folders, or None."""
    if not out.is_dir():
        return None
    for marker in RUN_MARKERS:
        found = sorted(out.rglob(marker))
        if found:
            return found[0]
    return None


def _remove_run_files(out: Path) -> int:
    """Delete the files a run writes (``RUN_FILES``) under ``out``; return how many."""
    removed = 0
    for name in RUN_FILES:
        for path in out.rglob(name):
            path.unlink()
            removed += 1
    for sub in sorted((p for p in out.rglob("*") if p.is_dir()), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    return removed


class RunLock:
    """An exclusive lock on a run folder, held until ``release`` (or the process ends)."""

    def __init__(self, out: Path, fd: int):
        self.out, self._fd = out, fd

    def release(self) -> None:
        """Unlock and close the lock file (``.lock`` stays); a second call does nothing."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def claim(out, resume: bool = False, overwrite: bool = False) -> RunLock:
    """Lock the run folder ``out`` for this process and check it may be used.

    Parameters
    ----------
    out : str or path
        The run folder (created if missing).
    resume : bool
        The caller continues the run in ``out``.
    overwrite : bool
        Delete the files of a run already in ``out`` (``RUN_FILES``) before starting.

    Returns
    -------
    RunLock
        Held until released or the process ends.

    Raises
    ------
    RunFolderError
        Another process holds the folder's lock (its process id is named), or ``out`` holds a
        run and neither ``resume`` nor ``overwrite`` is set, or both are set.
    """
    out = Path(out)
    if resume and overwrite:
        raise RunFolderError("--resume and --overwrite exclude each other: continue the run in "
                             f"{out}, or replace it")
    out.mkdir(parents=True, exist_ok=True)
    fd = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            os.close(fd)
            raise
        owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunFolderError(f"{out} is in use by another run (process {owner}); wait for it "
                             "to end, or choose another --out") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    lock = RunLock(out, fd)
    existing = _existing_run(out)
    if existing is None and resume:
        print(f"note: --resume: {out} holds no run yet; starting a new one", file=sys.stderr)
    if existing is not None and not resume:
        if not overwrite:
            lock.release()
            raise RunFolderError(
                f"{out} already holds a run ({existing.relative_to(out)}); add --resume to "
                "continue it, pass --overwrite to replace it, or choose another --out")
        _remove_run_files(out)
    return lock


# ================================================================================ fingerprint
def _digest(values) -> str:
    h = hashlib.sha256()
    for v in values:
        h.update(str(v).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def fingerprint(settings: dict, content_hashes, labels, split: dict) -> dict:
    """What makes a run the same run: data, labels, split and settings.

    Parameters
    ----------
    settings : dict
        The run's settings (JSON-able values, nested sections allowed); ``EXTENDABLE`` keys
        are left out at every level.
    content_hashes : (N,) sequence of str
        Content hash of every file (``data.duplicates``), in row order.
    labels : (N,) int
        Label of every row.
    split : dict
        ``{"train", "val", "test"}`` row positions.

    Returns
    -------
    dict
        ``{"n_files", "data", "labels", "split", "settings"}``: digests and the kept settings.
    """
    def kept(value):
        if isinstance(value, dict):
            return {k: kept(v) for k, v in sorted(value.items()) if k not in EXTENDABLE}
        return value
    labels = np.asarray(labels).tolist()
    return {
        "n_files": len(labels),
        "data": _digest(content_hashes),
        "labels": _digest(labels),
        "split": _digest(f"{name}:{int(i)}" for name in ("train", "val", "test")
                         for i in split[name]),
        "settings": kept(settings),
    }


def fingerprint_differences(stored: dict | None, current: dict) -> list[str]:
    """Human-readable differences between a checkpoint's fingerprint and this run's.

    Parameters
    ----------
    stored : dict or None
        The checkpoint's ``meta["fingerprint"]`` (``fingerprint``); None or empty for a
        checkpoint written before fingerprints existed.
    current : dict
        This run's ``fingerprint(...)``: keys ``n_files``, ``data``, ``labels``, ``split``,
        ``settings``.

    Returns
    -------
    list of str
        Empty when the runs are the same; else, in order, ``"files: 120 -> 118"``, ``"audio
        content differ"`` / ``"labels differ"`` / ``"split differ"``, then one
        ``"--n-mels: 128 -> 64"`` per setting that differs (settings compared by their last
        key, nested sections flattened); a single line when ``stored`` is empty.

    Raises
    ------
    KeyError
        ``current`` lacks one of its keys.
    """
    if not stored:
        return ["the checkpoint carries no fingerprint (written by an older version)"]
    diffs = []
    if stored.get("n_files") != current["n_files"]:
        diffs.append(f"files: {stored.get('n_files')} -> {current['n_files']}")
    for key, what in (("data", "audio content"), ("labels", "labels"), ("split", "split")):
        if stored.get(key) != current[key]:
            diffs.append(f"{what} differ")
    def flat(tree, into):
        for k, v in tree.items():
            if isinstance(v, dict) and v:
                flat(v, into)
            else:
                into[k] = v
        return into
    old, new = flat(stored.get("settings", {}), {}), flat(current["settings"], {})
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            diffs.append(f"--{k.replace('_', '-')}: {old.get(k)!r} -> {new.get(k)!r}")
    return diffs


def check_resume(run_dir, current: dict) -> None:
    """Refuse to resume the run in ``run_dir`` with other data or settings.

    Reads the fingerprint of ``run_dir/last.ckpt`` (nothing to check when it does not exist).

    Parameters
    ----------
    run_dir : str or path
        The run folder to resume.
    current : dict
        This run's ``fingerprint(...)``.

    Raises
    ------
    RunFolderError
        The fingerprints differ (or ``last.ckpt`` has none); the message lists every
        difference (``fingerprint_differences``) and the way on.
    CheckpointError
        ``last.ckpt`` cannot be read (``checkpoint.load_checkpoint``).
    """
    from .checkpoint import load_checkpoint       # checkpoints know models; keep this light

    last = Path(run_dir) / "last.ckpt"
    if not last.exists():
        return
    stored = load_checkpoint(last).get("meta", {}).get("fingerprint")
    diffs = fingerprint_differences(stored, current)
    if diffs:
        raise RunFolderError(
            f"--resume: the run in {run_dir} was made with other data or settings:\n  "
            + "\n  ".join(diffs) + f"\nOnly {', '.join('--' + k for k in EXTENDABLE)} may change "
            "on a resume; pass --overwrite to start this run anew, or choose another --out")


# ============================================================================= interruptions
@contextmanager
def signals_as_exceptions():
    """Within the block, SIGTERM raises ``Interrupted`` where the program is (so ``finally``
    blocks and temporary-file cleanup run); the previous handler is restored after."""
    def handler(signum, frame):
        raise Interrupted(signum)
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(exc: BaseException) -> int:
    """128 + the signal number: 130 for Ctrl-C (SIGINT), 143 for SIGTERM."""
    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    return 128 + int(signum)


def completed_epochs(run_dir) -> int:
    """Epochs recorded in ``run_dir/history.csv`` (0 when there is none)."""
    path = Path(run_dir) / "history.csv"
    if not path.is_file():
        return 0
    with open(path, newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def resume_command(argv=None) -> str:
    """The command line of this process with ``--resume`` (and without ``--overwrite``)."""
    argv = list(sys.argv if argv is None else argv)
    args = [a for a in argv[1:] if a != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    script = argv[0] if argv else "script"
    return shlex.join(["python", script, *args])


def interrupted_message(run_dir, argv=None) -> str:
    """``interrupted at epoch k; continue with: <command> --resume``.

    Parameters
    ----------
    run_dir : str or path or None
        The run being trained: ``k`` is one more than the rows of its ``history.csv``
        (``completed_epochs``); None gives ``k = 1``.
    argv : list of str or None
        The whole command, script first (``command_line``); None: ``sys.argv``. It is
        repeated with ``--resume`` added and ``--overwrite`` removed (``resume_command``).

    Returns
    -------
    str
        One line, without a newline.
    """
    epoch = completed_epochs(run_dir) + 1 if run_dir is not None else 1
    return f"interrupted at epoch {epoch}; continue with: {resume_command(argv)}"


def command_line(argv=None) -> list:
    """The command as typed (``sys.argv``), or the running script followed by ``argv``."""
    if argv is None:
        return list(sys.argv)
    return [sys.argv[0] if sys.argv and sys.argv[0] else "script", *argv]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr if file is None else file)


def plain_warnings() -> None:
    """Print warnings as one ``warning: ...`` line on stderr, without Python's file name and
    source line: for a script run from the command line (its ``__main__`` block)."""
    warnings.showwarning = _show_warning


def guarded(body, cfg, argv=None) -> int:
    """Run ``body(cfg, state)`` as a script's main: the exit code it returns, or

    - Ctrl-C / SIGTERM: one line ``interrupted at epoch k; continue with: ...`` on stderr
      (``state["run_dir"]``, set by ``body``, names the run being trained), 130 / 143;
    - a run-folder refusal (``RunFolderError``), an unreadable or pickled checkpoint
      (``CheckpointError``) or a full disk (``OSError`` ENOSPC/EDQUOT,
      whose message names the file): one ``error: ...`` line, 2.

    ``state`` also keeps what must live as long as the run (the folder's ``RunLock``).

    Parameters
    ----------
    body : callable
        ``body(cfg, state) -> int``, the script's work; SIGTERM raises ``Interrupted`` in it
        (``signals_as_exceptions``). It may set ``state["run_dir"]`` and ``state["lock"]``
        (released here on the way out, however ``body`` ends).
    cfg : object
        Passed to ``body`` unchanged (the script's ``ExperimentConfig``).
    argv : list of str or None
        The arguments after the script's name, for the command printed to continue
        (``command_line``); None: ``sys.argv``.

    Returns
    -------
    int
        ``body``'s result; 130 (Ctrl-C) or 143 (SIGTERM); 2 after an ``error:`` line.

    Raises
    ------
    OSError
        Other than ENOSPC or EDQUOT, re-raised; so is any other exception of ``body``.
    """
    from .checkpoint import CheckpointError       # checkpoints know models; keep this light

    state = {"run_dir": None}
    try:
        with signals_as_exceptions():
            return body(cfg, state)
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\n{interrupted_message(state['run_dir'], command_line(argv))}", file=sys.stderr)
        return exit_code(exc)
    except (RunFolderError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(f"error: {err} (the disk is full; partial files were removed; free some space "
              f"and continue with: {resume_command(command_line(argv))})", file=sys.stderr)
        return 2
    finally:
        if state.get("lock") is not None:
            state["lock"].release()
