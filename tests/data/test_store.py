"""The on-disk feature store, the feature cache written into it (with resume), and the
normalization applied batch by batch to rows read from disk."""

import json
import os

import numpy as np
import pytest

from minitorch_ser.data import features
from minitorch_ser.data.features import (FeatureConfig, Standardizer, normalize_speakers,
                                         normalize_utterances)
from minitorch_ser.data.normalized import NormalizedRows
from minitorch_ser.data.store import FeatureStore, Rows, sidecar_path


def _array(shape=(23, 2, 5, 7), seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _written(path, X, chunk=4):
    """A complete store of ``X`` written ``chunk`` rows at a time."""
    store = FeatureStore.create(path, X.shape)
    for start in range(0, len(X), chunk):
        store.write(start, X[start:start + chunk])
        store.commit(min(start + chunk, len(X)))
    store.finish()
    return store


# ================================================================================ the store
def test_rows_read_back_in_any_order_with_repeats(tmp_path):
    X = _array()
    store = _written(tmp_path / "x.npy", X)
    assert (len(store), store.shape, store.dtype) == (23, X.shape, np.float32)
    rng = np.random.default_rng(1)
    for idx in (rng.permutation(23), rng.integers(0, 23, 40), [22, 0, 22, 5, 6, 7, 8],
                [-1, -23, 3], np.arange(23), [], np.array([4], np.uint8)):
        out = store[idx]
        assert out.shape == (len(idx), *X.shape[1:]) and out.dtype == np.float32
        np.testing.assert_array_equal(out, X[np.asarray(idx, dtype=np.int64)])
    for key in (slice(None), slice(3, 11), slice(20, 40), slice(None, None, 3), slice(5, 2)):
        np.testing.assert_array_equal(store[key], X[key])
    np.testing.assert_array_equal(store[7], X[7])                 # an int: one row
    np.testing.assert_array_equal(store.load(), X)
    np.testing.assert_array_equal(np.asarray(store), X)
    out = store[[1, 2]]
    out += 1                                                      # a copy, not the file
    np.testing.assert_array_equal(store[[1, 2]], X[[1, 2]])


def test_numpy_reads_the_file_and_the_store_reads_numpys(tmp_path):
    X = _array((9, 3, 4, 5))
    path = str(tmp_path / "x.npy")
    _written(path, X).close()
    np.testing.assert_array_equal(np.load(path), X)
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(mapped[[8, 0, 4]], X[[8, 0, 4]])
    del mapped
    # np.save's own file (no sidecar) opens as a complete store; float64 keeps its dtype
    np.save(tmp_path / "plain.npy", X.astype(np.float64))
    plain = FeatureStore(tmp_path / "plain.npy")
    assert plain.complete and plain.rows_written == 9 and plain.dtype == np.float64
    np.testing.assert_array_equal(plain[[3, 1]], X[[3, 1]].astype(np.float64))


def test_reading_maps_nothing_into_the_process(tmp_path):
    """Rows are read with positioned reads: the file never appears in the process's
    memory maps (its pages stay in the page cache, not in the resident set)."""
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("needs Linux's /proc/self/maps")
    path = str(tmp_path / "x.npy")
    store = _written(path, _array((50, 1, 16, 16)))
    store[np.random.default_rng(0).permutation(50)]
    with open("/proc/self/maps") as f:
        assert path not in f.read()


def test_an_interrupted_write_resumes_from_the_sidecar(tmp_path):
    X = _array()
    path = tmp_path / "x.npy"
    store = FeatureStore.create(path, X.shape)
    store.write(0, X[:8])
    store.commit(8, {"inputs_done": 10, "failed": [[3, "a.wav", "bad"]]})
    store.write(8, X[8:12])                 # written but never committed: an interruption
    store.close()
    side = json.loads(open(sidecar_path(path)).read())
    assert (side["rows_written"], side["complete"], side["shape"]) == (8, False, list(X.shape))

    again = FeatureStore(path, "r+")
    assert again.rows_written == 8 and not again.complete
    assert again.progress == {"inputs_done": 10, "failed": [[3, "a.wav", "bad"]]}
    np.testing.assert_array_equal(again[:8], X[:8])
    with pytest.raises(ValueError, match=r"x.npy: row 8 is not written yet \(rows 0..7"):
        again[[2, 8]]
    again[8:20] = X[8:20]                   # continue, then keep the first 20 rows only
    again.finish(20, {"inputs_done": 23})
    assert again.shape == (20, *X.shape[1:]) and again.complete
    np.testing.assert_array_equal(np.load(path), X[:20])
    assert os.path.getsize(path) == again.offset + 20 * again.row_nbytes
    reopened = FeatureStore(path)
    assert reopened.complete and reopened.shape == again.shape
    np.testing.assert_array_equal(reopened[[19, 0]], X[[19, 0]])


def test_create_replaces_a_file_without_disturbing_its_readers(tmp_path):
    path = tmp_path / "x.npy"
    old = _written(path, _array(seed=0))
    expected = old[[0, 5]]
    new = _written(path, _array(seed=1))
    np.testing.assert_array_equal(old[[0, 5]], expected)       # the reader keeps its file
    np.testing.assert_array_equal(new[[0, 5]], _array(seed=1)[[0, 5]])


def test_errors_name_the_file_and_the_constraint(tmp_path):
    X = _array((6, 2, 3, 4))
    path = str(tmp_path / "x.npy")
    store = _written(path, X)
    with pytest.raises(IndexError, match="x.npy: row index 6 is out of range for 6 rows"):
        store[[0, 6]]
    with pytest.raises(IndexError, match="x.npy: row index -7 is out of range"):
        store[-7]
    with pytest.raises(IndexError, match="x.npy: rows must be selected by integer"):
        store[np.ones(6, bool)]
    with pytest.raises(IndexError, match="x.npy: row indices must be 1-D"):
        store[np.zeros((2, 2), int)]
    with pytest.raises(ValueError, match=r"x.npy: rows of shape \(2, 3, 3, 4\) must be "
                                         r"\(k, 2, 3, 4\)"):
        store.write(0, np.zeros((2, 3, 3, 4)))
    with pytest.raises(ValueError, match=r"x.npy: rows 5..6 must lie in 0..5"):
        store.write(5, X[:2])
    with pytest.raises(ValueError, match="x.npy: 2 rows do not fill rows 0:3"):
        store[0:3] = X[:2]
    with pytest.raises(ValueError, match="x.npy: rows_written=7 must be in"):
        store.commit(7)
    with pytest.raises(ValueError, match="x.npy is open read-only"):
        FeatureStore(path).write(0, X[:1])
    with pytest.raises(ValueError, match="dtype=object must be a numeric dtype"):
        FeatureStore.create(tmp_path / "o.npy", (2, 3), dtype=object)
    with pytest.raises(ValueError, match=r"shape=\(\) must be \(N, ...\)"):
        FeatureStore.create(tmp_path / "e.npy", ())
    with pytest.raises(ValueError, match="mode='w' must be 'r' or 'r\\+'"):
        FeatureStore(path, "w")
    # damaged files: truncated data, a foreign file, a sidecar of another array
    data = open(path, "rb").read()
    open(tmp_path / "t.npy", "wb").write(data[:-10])
    with pytest.raises(OSError, match=r"t.npy is truncated: \d+ bytes, its header says"):
        FeatureStore(tmp_path / "t.npy")
    open(tmp_path / "junk.npy", "wb").write(b"RIFF not numpy")
    with pytest.raises(ValueError, match="junk.npy is not a .npy file"):
        FeatureStore(tmp_path / "junk.npy")
    np.save(tmp_path / "f.npy", np.asfortranarray(np.zeros((3, 4))))
    with pytest.raises(ValueError, match="f.npy holds a Fortran-order array"):
        FeatureStore(tmp_path / "f.npy")
    side = json.loads(open(sidecar_path(path)).read())
    side["shape"] = [7, 2, 3, 4]
    open(sidecar_path(path), "w").write(json.dumps(side))
    with pytest.raises(ValueError, match=r"x.json does not describe .*x.npy"):
        FeatureStore(path)


def test_rows_selects_rows_of_an_array_or_a_store(tmp_path):
    X = _array()
    store = _written(tmp_path / "x.npy", X)
    rows = np.array([20, 3, 3, 0, 11])
    for source in (X, store):
        sel = Rows(source, rows)
        assert sel.shape == (5, *X.shape[1:]) and len(sel) == 5
        np.testing.assert_array_equal(sel[[4, 0, 1]], X[rows[[4, 0, 1]]])
        np.testing.assert_array_equal(sel[1:4], X[rows[1:4]])
        np.testing.assert_array_equal(sel[-1], X[11])
        np.testing.assert_array_equal(np.asarray(sel), X[rows])
    with pytest.raises(IndexError, match="Rows: row index 23 is out of range for 23 rows"):
        Rows(X, [23])


# ========================================================================= the feature cache
@pytest.fixture
def chunks(monkeypatch):
    """Record the first input of every chunk ``extract`` computes; ``chunks.fail_after = k``
    raises ``KeyboardInterrupt`` once k chunks have been computed (an interruption)."""
    real = features._chunks

    class Spy(list):
        fail_after = None

    spy = Spy()

    def computed(paths, *args, **kwargs):
        for chunk in real(paths, *args, **kwargs):
            if spy.fail_after is not None and len(spy) == spy.fail_after:
                raise KeyboardInterrupt("injected after the chunk computations so far")
            spy.append(chunk[0])
            yield chunk

    monkeypatch.setattr(features, "_chunks", computed)
    return spy


def test_an_interrupted_extraction_resumes_where_it_stopped(synth_df, tmp_path, chunks):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    paths = list(synth_df["path"][:9]) + [str(bad)] + list(synth_df["path"][9:14])   # 15
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        reference = features.extract(paths, batch_size=3, progress=False, cache_dir=None)
    chunks.clear()

    chunks.fail_after = 2                                  # chunks 0 and 3 done, then stop
    with pytest.raises(KeyboardInterrupt):
        features.extract(paths, batch_size=3, progress=False, cache_dir=tmp_path)
    store = FeatureStore(features.cache_path(paths, FeatureConfig(), tmp_path))
    assert store.rows_written == 6 and not store.complete
    assert store.progress["inputs_done"] == 6 and store.progress["batch_size"] == 3
    store.close()

    chunks.clear()
    chunks.fail_after = None
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        # another batch_size: the resumed extraction keeps the chunks it started with
        resumed = features.extract(paths, batch_size=5, progress=False, cache_dir=tmp_path)
    assert chunks == [6, 9, 12], "the first two chunks are read back, not recomputed"
    assert resumed.X.tobytes() == reference.X.tobytes()          # bit for bit
    assert resumed.kept.tolist() == reference.kept.tolist() == [*range(9), *range(10, 15)]
    assert resumed.failed == reference.failed and resumed.failed[0][0] == str(bad)

    chunks.clear()
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        on_disk = features.extract(paths, progress=False, cache_dir=tmp_path, on_disk=True)
    assert chunks == [] and isinstance(on_disk.X, FeatureStore)
    assert on_disk.X.shape == reference.X.shape and on_disk.X.complete
    np.testing.assert_array_equal(on_disk.X[[13, 0, 4]], reference.X[[13, 0, 4]])
    assert on_disk.kept.tolist() == reference.kept.tolist()


def test_extract_on_disk_needs_a_cache_folder(synth_df):
    with pytest.raises(ValueError, match="on_disk=True needs a cache_dir"):
        features.extract(list(synth_df["path"][:2]), cache_dir=None, on_disk=True)


def test_a_cache_of_other_inputs_is_recomputed(synth_df, tmp_path, chunks):
    paths = list(synth_df["path"][:4])
    target = features.cache_path(paths, FeatureConfig(), tmp_path)
    np.save(target, np.zeros((4, 1, 128, 188), np.float32))   # a plain .npy, no progress
    with pytest.warns(UserWarning, match="feature cache .* is unreadable .*expected 4 files"):
        X = features.extract(paths, progress=False, cache_dir=tmp_path).X
    assert chunks == [0] and X.max() == 0.0 and X.min() < -1.0


# ========================================================== normalization of rows on reading
def _corpus(tmp_path, n=37):
    X = (10 * _array((n, 2, 6, 9), seed=3) - 40).astype(np.float32)
    return X, _written(tmp_path / "x.npy", X, chunk=8)


def test_standardizer_fits_a_store_bit_for_bit(tmp_path):
    X, store = _corpus(tmp_path)
    for mode in ("per_bin", "global"):
        a = Standardizer(mode).fit(X, chunk=5)
        b = Standardizer(mode).fit(store, chunk=5)
        assert a.mean_.tobytes() == b.mean_.tobytes() and a.std_.tobytes() == b.std_.tobytes()
    rows = np.array([30, 2, 2, 17, 5, 36])
    a = Standardizer().fit(X[rows], chunk=4)
    b = Standardizer().fit(Rows(store, rows), chunk=4)
    assert a.mean_.tobytes() == b.mean_.tobytes() and a.std_.tobytes() == b.std_.tobytes()


@pytest.mark.parametrize("mode", ["global", "utterance", "speaker", None])
def test_normalized_rows_equal_the_in_memory_normalization(tmp_path, mode):
    X, store = _corpus(tmp_path)
    speakers = np.array(list("abcab") * 8)[:len(X)]
    standardizer = Standardizer().fit(X)
    expected = {"global": lambda: standardizer.transform(X),
                "utterance": lambda: normalize_utterances(X),
                "speaker": lambda: normalize_speakers(X, speakers),
                None: lambda: X}[mode]()
    lazy = NormalizedRows(store, mode, standardizer, speakers, chunk=6)
    assert lazy.shape == X.shape and len(lazy) == len(X)
    rng = np.random.default_rng(0)
    for idx in (rng.permutation(len(X))[:16], rng.integers(0, len(X), 9), [5]):
        batch = lazy[idx]
        assert batch.dtype == np.float32
        assert batch.tobytes() == expected[idx].tobytes(), f"{mode}: rows {idx}"
    assert lazy[3:20].tobytes() == expected[3:20].tobytes()
    assert lazy[4].tobytes() == expected[4].tobytes()
    assert np.asarray(lazy).tobytes() == expected.tobytes()
    np.testing.assert_array_equal(store[:], X)              # the store is never changed


def test_normalized_rows_refuse_what_they_cannot_do(tmp_path):
    X, store = _corpus(tmp_path, n=4)
    with pytest.raises(ValueError, match="mode='cmvn' must be one of"):
        NormalizedRows(store, "cmvn")
    with pytest.raises(ValueError, match="mode='global' needs a fitted Standardizer"):
        NormalizedRows(store, "global", Standardizer())
    with pytest.raises(ValueError, match="mode='speaker' needs the speaker of every row"):
        NormalizedRows(store, "speaker")
    with pytest.raises(ValueError, match=r"speakers must be \(N,\) = \(4,\), got shape \(3,\)"):
        NormalizedRows(store, "speaker", speakers=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"features must be \(N, C, F, T\)"):
        NormalizedRows(np.zeros((3, 4)), None)
    with pytest.raises(IndexError, match="NormalizedRows: row index 4 is out of range"):
        NormalizedRows(store, None)[[4]]
