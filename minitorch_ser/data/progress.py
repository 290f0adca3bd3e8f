"""One progress line for long loops (features, hashes, training batches), on a terminal or not.

On a terminal the line rewrites itself (``\\r``); elsewhere (a log file, a pipe) a full line is
printed about every 10% so logs stay short. Each line gives ``done/total``, the rate, the
elapsed time and the estimated time left.
"""

from __future__ import annotations

import sys
import time


class Progress:
    """A self-updating progress line.

    Parameters
    ----------
    total : int >= 0
        Steps to do.
    desc : str
        What is counted, at the start of the line (``"features"``, ``"epoch 3/40"``).
    unit : str
        Name of a step, plural (``"clips"``, ``"batches"``).
    enabled : bool
        Print anything at all.
    stream : file or None
        Where to print (default: ``sys.stderr``).
    """

    def __init__(self, total: int, desc: str, unit: str = "items", enabled: bool = True,
                 stream=None):
        self.total, self.desc, self.unit, self.enabled = int(total), desc, unit, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.done, self._decile = 0, -1

    def update(self, done: int, extra: str = "") -> None:
        """Report ``done`` steps finished, with ``extra`` text (e.g. the running loss).

        ``rate = done / elapsed`` steps per second and ``ETA = (total - done) / rate`` seconds
        (``nan`` until a step is done). On a terminal the line is rewritten at every call;
        elsewhere a line is printed only when ``done`` enters a new tenth of ``total``, and
        never for ``done >= total``.

        Parameters
        ----------
        done : int >= 0
            Steps finished so far (a count, not an increment); stored even when disabled.
        extra : str
            Text after ``done/total unit`` (empty: none).
        """
        self.done = done
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        line = (f"{self.desc}: {done}/{self.total} {self.unit}"
                + (f" {extra}" if extra else "")
                + f", {rate:.0f} {self.unit}/s, {elapsed:.0f}s elapsed, ETA {eta:.0f}s")
        if self.tty:
            self.stream.write("\r" + line + "   ")
        else:
            decile = done * 10 // max(self.total, 1)
            if decile == self._decile or done >= self.total:
                return
            self._decile = decile
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line (on a terminal: erase it)."""
        if self.tty:
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()
