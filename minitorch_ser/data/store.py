"""An on-disk array of features, written chunk by chunk and read by row indices.

Corpora larger than memory keep their features in a ``FeatureStore``: one file in NumPy's
``.npy`` format (so ``np.load(path, mmap_mode="r")`` opens it too) holding an array of shape
``(N, C, F, T)`` (N clips, C channels, F mel bins, T frames; any row shape works), beside a
small JSON *sidecar* that records how far the writing got.

**File layout** (``.npy`` format version 1.0)::

    b"\\x93NUMPY" 0x01 0x00 <header length, uint16 LE> "{'descr': '<f4', 'fortran_order':
    False, 'shape': (N, C, F, T), }" <spaces> "\\n"   (64-byte aligned, ``offset`` bytes)
    row 0, row 1, ..., row N-1                           (C order, ``row_nbytes`` bytes each)

so row ``i`` starts at byte ``offset + i * row_nbytes`` with ``row_nbytes = C F T * 4``.

**Reading.** ``store[idx]`` gathers rows with positioned reads (seek, then ``readinto`` the
result): the requested rows are sorted and deduplicated, runs of consecutive rows are read
in one call each, and the result is put back in the requested order. Nothing is mapped into
the process: the file's pages live in the operating system's page cache, which the kernel
drops under memory pressure, so the process's resident memory grows with the batch, not with
the file (a ``np.memmap`` would count every page it touched as the process's own).

**Writing and resuming.** ``FeatureStore.create`` writes the header and sizes the file (a
sparse file: no disk block is written for rows not yet written); ``write(start, rows)`` fills
rows; ``commit(rows_written, progress)`` records, after the rows are handed to the operating
system, that rows ``0 .. rows_written - 1`` hold data, with any JSON ``progress`` of the
writer (e.g. which inputs are done, which failed). A process killed between two commits leaves
a file whose sidecar names the last committed prefix: the writer reopens it and continues
from there. ``finish`` marks the store complete (optionally shrinking it to its first rows).
The sidecar is replaced atomically (written to a temporary file, then renamed); the store
survives an interrupted process, not a power failure (nothing is ``fsync``-ed).

Sidecar ``<name>.json`` beside ``<name>.npy``::

    {"format": "minitorch-ser-feature-store", "version": 1, "shape": [N, C, F, T],
     "dtype": "<f4", "rows_written": k, "complete": false, "progress": {...}}

A ``.npy`` file without a sidecar (``np.save``'s) opens as a complete store.
"""

from __future__ import annotations

import json
import os

import numpy as np

FORMAT = "minitorch-ser-feature-store"
VERSION = 1
_MAGIC = b"\x93NUMPY\x01\x00"          # magic string, format version 1.0
_ALIGN = 64                             # NumPy aligns the data to 64 bytes


def sidecar_path(path) -> str:
    """The sidecar of a store: ``features_x.npy -> features_x.json``."""
    return os.path.splitext(os.fspath(path))[0] + ".json"


def _header(shape: tuple, dtype: np.dtype, size: int | None = None) -> bytes:
    """The ``.npy`` 1.0 header of a C-order array, padded with spaces to ``size`` bytes
    (default: the smallest multiple of 64 that holds it).

    Raises
    ------
    ValueError
        The header does not fit in ``size`` bytes.
    """
    text = ("{'descr': %r, 'fortran_order': False, 'shape': %r, }"
            % (np.lib.format.dtype_to_descr(dtype), tuple(int(s) for s in shape)))
    minimum = len(_MAGIC) + 2 + len(text) + 1                      # + the final newline
    if size is None:
        size = -(-minimum // _ALIGN) * _ALIGN
    if minimum > size:
        raise ValueError(f"a header for shape {shape} needs {minimum} bytes, more than {size}")
    text = text.ljust(size - len(_MAGIC) - 2 - 1) + "\n"
    return _MAGIC + (len(text)).to_bytes(2, "little") + text.encode("latin1")


def _numeric(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc":
        raise ValueError(f"dtype={dtype} must be a numeric dtype (bool, integer, float or "
                         "complex): a store never holds Python objects")
    return dtype


def as_rows(X):
    """``X`` itself when it reads rows by index (an ndarray, a ``FeatureStore``, ``Rows``,
    ``data.normalized.NormalizedRows``: anything with ``shape``, ``__len__`` and
    ``__getitem__``), else ``np.asarray(X)`` (lists, tuples)."""
    if isinstance(X, np.ndarray):
        return X
    if hasattr(X, "shape") and hasattr(X, "__len__") and hasattr(X, "__getitem__"):
        return X
    return np.asarray(X)


def row_indices(key, n: int, where: str) -> np.ndarray:
    """The rows ``key`` selects among ``n`` as a 1-D int64 array (an int key gives one row).

    Parameters
    ----------
    key : int, slice or (B,) int array-like
        Negative indices count from the end, as NumPy's.
    n : int >= 0
        Number of rows.
    where : str
        Named in the error message (a file name).

    Raises
    ------
    IndexError
        An index outside ``[-n, n)``, a boolean or non-integer index, or more than 1 dimension.
    """
    if isinstance(key, slice):
        return np.arange(*key.indices(n), dtype=np.int64)
    idx = np.asarray(key)
    if idx.dtype == bool or (idx.size and idx.dtype.kind not in "iu"):
        raise IndexError(f"{where}: rows must be selected by integer indices or a slice, "
                         f"got dtype {idx.dtype}")
    if idx.ndim > 1:
        raise IndexError(f"{where}: row indices must be 1-D, got shape {idx.shape}")
    idx = idx.astype(np.int64).reshape(-1)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"{where}: row index {int(idx[bad][0])} is out of range for "
                         f"{n} rows")
    return np.where(idx < 0, idx + n, idx)


class FeatureStore:
    """An array ``(N, *row_shape)`` in a ``.npy`` file, written by row ranges, read by rows.

    Open an existing file with ``FeatureStore(path)``; make a new one with
    ``FeatureStore.create(path, shape)``.

    Parameters
    ----------
    path : str or path
        A ``.npy`` file (C order, numeric dtype), with or without its sidecar (module
        docstring).
    mode : {"r", "r+"}
        Read only, or read and write.

    Attributes
    ----------
    path : str
    shape : tuple of int, (N, *row_shape)
    dtype : numpy.dtype
    offset : int
        Bytes before row 0 (the header).
    row_nbytes : int
        Bytes per row.

    Raises
    ------
    OSError
        The file cannot be opened, or is shorter than its header says.
    ValueError
        Not a ``.npy`` file, Fortran order, a non-numeric dtype, or a sidecar that does not
        describe this file (each message names the file).

    Examples
    --------
    >>> store = FeatureStore.create("train.npy", (1000, 1, 128, 188))
    >>> store.write(0, X_first_64)               # (64, 1, 128, 188)
    >>> store.commit(64, {"inputs_done": 64})
    >>> ...
    >>> store.finish()
    >>> xb = store[[5, 17, 3]]                   # (3, 1, 128, 188) in memory
    """

    def __init__(self, path, mode: str = "r"):
        if mode not in ("r", "r+"):
            raise ValueError(f"mode={mode!r} must be 'r' or 'r+'")
        self.path, self.mode = os.fspath(path), mode
        self._file = open(self.path, "rb" if mode == "r" else "r+b", buffering=0)
        try:
            self._read_header()
            self._read_sidecar()
        except BaseException:
            self._file.close()
            raise

    # ------------------------------------------------------------------------------ opening
    def _read_header(self) -> None:
        try:
            version = np.lib.format.read_magic(self._file)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(self._file)
        except ValueError as err:
            raise ValueError(f"{self.path} is not a .npy file ({err})") from None
        if fortran:
            raise ValueError(f"{self.path} holds a Fortran-order array: rows must be contiguous "
                             "(C order)")
        if len(shape) < 1:
            raise ValueError(f"{self.path} holds a 0-d array: a store needs rows")
        try:
            self.dtype = _numeric(dtype)
        except ValueError as err:
            raise ValueError(f"{self.path}: {err}") from None
        self.shape = tuple(int(s) for s in shape)
        self.offset = self._file.tell()
        self.row_nbytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        need = self.offset + self.shape[0] * self.row_nbytes
        size = os.fstat(self._file.fileno()).st_size
        if size < need:
            raise OSError(f"{self.path} is truncated: {size} bytes, its header says {need}")

    def _read_sidecar(self) -> None:
        side = sidecar_path(self.path)
        if not os.path.exists(side):             # np.save's file: complete by definition
            self.rows_written, self.complete, self.progress = len(self), True, {}
            return
        try:
            with open(side) as f:
                meta = json.load(f)
            ok = (meta.get("format") == FORMAT and list(meta["shape"]) == list(self.shape)
                  and np.dtype(meta["dtype"]) == self.dtype)
            rows = int(meta["rows_written"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{side} is not a readable store sidecar ({err})") from None
        if not ok or not 0 <= rows <= len(self):
            raise ValueError(f"{side} does not describe {self.path} (sidecar shape "
                             f"{meta.get('shape')} dtype {meta.get('dtype')} rows_written "
                             f"{rows}; file shape {list(self.shape)} dtype {self.dtype})")
        self.rows_written, self.complete = rows, bool(meta.get("complete", False))
        self.progress = dict(meta.get("progress") or {})

    @classmethod
    def create(cls, path, shape, dtype=np.float32) -> "FeatureStore":
        """A new, empty store of ``shape`` (an existing file of that name is replaced).

        The sidecar (``rows_written = 0``, incomplete) is written first, then the header, and
        the file is sized to ``offset + N * row_nbytes`` bytes without writing the rows. An
        existing file is unlinked rather than overwritten: a process still reading it keeps
        its own copy.

        Parameters
        ----------
        path : str or path
            The ``.npy`` file (its folder is created).
        shape : tuple of int >= 0, (N, *row_shape)
        dtype : numeric dtype
            float32 by default.

        Returns
        -------
        FeatureStore
            Open in mode ``"r+"``.

        Raises
        ------
        ValueError
            An empty or negative ``shape``, or a non-numeric ``dtype``.
        """
        path = os.fspath(path)
        shape = tuple(int(s) for s in shape)
        if len(shape) < 1 or min(shape) < 0:
            raise ValueError(f"{path}: shape={shape} must be (N, ...) with sizes >= 0")
        dtype = _numeric(dtype)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        for old in (path, sidecar_path(path)):
            if os.path.exists(old):
                os.unlink(old)
        _write_sidecar(path, shape, dtype, 0, False, {})
        header = _header(shape, dtype)
        with open(path, "xb") as f:
            f.write(header)
            f.truncate(len(header) + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
        return cls(path, "r+")

    # ----------------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return self.shape[0]

    @property
    def nbytes(self) -> int:
        """Bytes of the data (header excluded)."""
        return len(self) * self.row_nbytes

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{self.rows_written} rows written"
        return f"FeatureStore({self.path!r}, shape={self.shape}, dtype={self.dtype}, {state})"

    def __getitem__(self, key) -> np.ndarray:
        """Rows read into memory: ``store[idx] -> (len(idx), *row_shape)``.

        Parameters
        ----------
        key : int, slice or (B,) int array-like
            Any order, repeats allowed, negative indices from the end; an int gives one row
            ``row_shape``.

        Returns
        -------
        ndarray of ``dtype``
            A new array (never a view of the file).

        Raises
        ------
        IndexError
            An index out of range or not an integer (the message names the file).
        ValueError
            A row the store has not been written yet (``rows_written``).
        """
        single = isinstance(key, (int, np.integer))
        idx = row_indices(key, len(self), self.path)
        out = self._gather(idx)
        return out[0] if single else out

    def _gather(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (checked, >= 0): each run of consecutive rows in one read."""
        if len(idx) and idx.max() >= self.rows_written:
            raise ValueError(f"{self.path}: row {int(idx.max())} is not written yet (rows "
                             f"0..{self.rows_written - 1} of {len(self)} are)")
        rows, inverse = np.unique(idx, return_inverse=True)     # sorted, without repeats
        buf = np.empty((len(rows), *self.shape[1:]), self.dtype)
        # a run starts where the next row is not the previous one plus 1
        starts = np.flatnonzero(np.diff(rows, prepend=-2) != 1)
        stops = np.append(starts[1:], len(rows))
        for a, b in zip(starts.tolist(), stops.tolist()):
            self._read_into(buf[a:b], int(rows[a]))
        if len(rows) == len(idx) and np.array_equal(rows, idx):
            return buf                                          # already in order
        return buf[inverse.reshape(-1)]

    def _read_into(self, out: np.ndarray, first_row: int) -> None:
        view = memoryview(out).cast("B")
        self._file.seek(self.offset + first_row * self.row_nbytes)
        done = 0
        while done < len(view):
            got = self._file.readinto(view[done:])
            if not got:
                raise OSError(f"{self.path} ended early: row {first_row} + {done} bytes")
            done += got

    def load(self) -> np.ndarray:
        """Every row in memory, ``(N, *row_shape)``.

        Raises
        ------
        ValueError
            The store is incomplete (``rows_written < N``).
        """
        return self[:]

    def __array__(self, dtype=None, copy=None):
        X = self.load()
        return X if dtype is None else X.astype(dtype, copy=False)

    # ----------------------------------------------------------------------------- writing
    def write(self, start: int, rows) -> None:
        """Write ``rows : (k, *row_shape)`` at rows ``start .. start + k - 1``.

        Parameters
        ----------
        start : int >= 0
        rows : (k, *row_shape) array-like
            Converted to ``dtype`` (float64 features are rounded to float32).

        Raises
        ------
        ValueError
            The store is read-only; ``rows`` of another row shape; ``start + k > N``.
        """
        if self.mode != "r+":
            raise ValueError(f"{self.path} is open read-only: open it with mode='r+' to write")
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        if rows.shape[1:] != self.shape[1:] or rows.ndim != len(self.shape):
            raise ValueError(f"{self.path}: rows of shape {rows.shape} must be "
                             f"(k, {', '.join(map(str, self.shape[1:]))})")
        start = int(start)
        if start < 0 or start + len(rows) > len(self):
            raise ValueError(f"{self.path}: rows {start}..{start + len(rows) - 1} must lie "
                             f"in 0..{len(self) - 1}")
        if rows.size == 0:
            return
        view = memoryview(rows).cast("B")
        self._file.seek(self.offset + start * self.row_nbytes)
        done = 0
        while done < len(view):
            done += self._file.write(view[done:])

    def __setitem__(self, key: slice, rows) -> None:
        """``store[a:b] = rows``: ``write(a, rows)`` with ``len(rows) == b - a`` (step 1 only)."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise IndexError(f"{self.path}: assign to a slice of rows (a:b), got {key!r}")
        start, stop, _ = key.indices(len(self))
        if len(rows) != max(stop - start, 0):
            raise ValueError(f"{self.path}: {len(rows)} rows do not fill rows {start}:{stop}")
        self.write(start, rows)

    def commit(self, rows_written: int, progress: dict | None = None) -> None:
        """Record that rows ``0 .. rows_written - 1`` hold data, with the writer's
        ``progress`` (JSON values), in the sidecar (atomically).

        Raises
        ------
        ValueError
            ``rows_written`` outside ``[0, N]``, or the store is read-only.
        """
        if self.mode != "r+":
            raise ValueError(f"{self.path} is open read-only: open it with mode='r+' to write")
        if not 0 <= rows_written <= len(self):
            raise ValueError(f"{self.path}: rows_written={rows_written} must be in "
                             f"[0, {len(self)}]")
        self.rows_written = int(rows_written)
        self.progress = dict(progress or {})
        _write_sidecar(self.path, self.shape, self.dtype, self.rows_written, False,
                       self.progress)

    def finish(self, n_rows: int | None = None, progress: dict | None = None) -> None:
        """Mark the store complete, keeping its first ``n_rows`` rows (default: all N).

        With ``n_rows < N`` the header is rewritten for ``(n_rows, *row_shape)`` (same
        length, so the rows do not move) and the file truncated after row ``n_rows - 1``.

        Raises
        ------
        ValueError
            ``n_rows`` outside ``[0, N]``, or the store is read-only.
        """
        if self.mode != "r+":
            raise ValueError(f"{self.path} is open read-only: open it with mode='r+' to write")
        n_rows = len(self) if n_rows is None else int(n_rows)
        if not 0 <= n_rows <= len(self):
            raise ValueError(f"{self.path}: n_rows={n_rows} must be in [0, {len(self)}]")
        if n_rows < len(self):
            self.shape = (n_rows, *self.shape[1:])
            self._file.seek(0)
            self._file.write(_header(self.shape, self.dtype, self.offset))
            self._file.truncate(self.offset + self.nbytes)
        self.rows_written, self.complete = n_rows, True
        if progress is not None:
            self.progress = dict(progress)
        _write_sidecar(self.path, self.shape, self.dtype, n_rows, True, self.progress)

    # ----------------------------------------------------------------------------- closing
    def close(self) -> None:
        """Close the file (the store cannot be read afterwards)."""
        self._file.close()

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _write_sidecar(path: str, shape: tuple, dtype: np.dtype, rows_written: int,
                   complete: bool, progress: dict) -> None:
    """The sidecar of ``path``, written to a temporary file then renamed over the old one."""
    side = sidecar_path(path)
    tmp = f"{side}.{os.getpid()}.tmp"
    meta = {"format": FORMAT, "version": VERSION, "shape": list(shape),
            "dtype": np.lib.format.dtype_to_descr(dtype), "rows_written": rows_written,
            "complete": complete, "progress": progress}
    try:
        with open(tmp, "w") as f:
            json.dump(meta, f)
        os.replace(tmp, side)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Rows:
    """A selection of rows of an array or store, read on demand: ``Rows(X, rows)[i] ==
    X[rows[i]]``.

    Parameters
    ----------
    source : (N, ...) ndarray or FeatureStore (anything ``as_rows`` keeps)
    rows : (M,) int
        Rows of ``source``, any order, repeats allowed.

    Attributes
    ----------
    shape : (M, *source.shape[1:])
    dtype
    """

    def __init__(self, source, rows):
        self.source = as_rows(source)
        self.rows = row_indices(rows, len(self.source), "Rows")
        self.shape = (len(self.rows), *self.source.shape[1:])
        self.dtype = self.source.dtype

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> np.ndarray:
        """``source[rows[key]]``: an int gives one row, a slice or index array ``(B, ...)``."""
        if isinstance(key, (int, np.integer)):
            return self.source[self.rows[row_indices(key, len(self), "Rows")]][0]
        return self.source[self.rows[row_indices(key, len(self), "Rows")]]

    def __array__(self, dtype=None, copy=None):
        X = self[:]
        return X if dtype is None else X.astype(dtype, copy=False)
