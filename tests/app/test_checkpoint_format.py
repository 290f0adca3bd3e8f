"""The checkpoint file: arrays and JSON only, exact round trips, refusals that name the file,
pickles never read outside ``convert --trusted``, the model registry, the feature cache.

A pickle whose unpickling creates a marker file stands for a malicious ``best.ckpt``: every
path that reads checkpoints (load, predict, resume) must leave the marker absent, and
``convert --trusted`` shows that the same file really does run its payload when unpickled.
"""

import copy
import io
import json
import math
import os
import pickle
import pickletools
import re
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from minitorch_ser.app import cli, training as train
from minitorch_ser.app.checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, JSON_MEMBER,
                                      CheckpointError, build_model, class_path,
                                      convert_legacy, load_checkpoint, save_checkpoint,
                                      write_archive)
from minitorch_ser.data import features
from minitorch_ser.app.inference import Predictor
from minitorch_ser.models import (ParallelCNNLSTMAttention, get_model_class, model_name,
                                  register_model, registered_models)
from minitorch_ser.nn.linear import Linear
from minitorch_ser.nn.module import Module
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.app.training import TrainConfig, fit

from inference_helpers import make_tiny_run


# ================================================================================== helpers
def assert_identical(a, b, where="checkpoint"):
    """Same type and value at every leaf; arrays bit for bit. Returns the leaves compared."""
    if isinstance(a, dict):                       # an OrderedDict comes back as a dict
        assert type(b) is dict, f"{where}: {type(b).__name__}, expected dict"
        assert list(a) == list(b), f"{where}: keys {list(b)[:5]} != {list(a)[:5]}"
        for key in a:
            assert type(key) is type(next(k for k in b if k == key)), f"{where} key {key!r}"
        return sum(assert_identical(a[k], b[k], f"{where}[{k!r}]") for k in a)
    assert type(a) is type(b), f"{where}: {type(b).__name__}, expected {type(a).__name__}"
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: length {len(b)} != {len(a)}"
        return sum(assert_identical(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
    if isinstance(a, (np.ndarray, np.generic)):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{where}: {b.dtype}{b.shape} != {a.dtype}{a.shape}"
        assert a.tobytes() == b.tobytes(), f"{where}: the bytes differ"
        return 1
    if isinstance(a, float):
        same = (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
        assert same, f"{where}: {b!r} != {a!r}"
        return 1
    assert a == b, f"{where}: {b!r} != {a!r}"
    return 1


class Payload:
    """A value whose unpickling runs ``open(marker, 'w')``: the attack a pickle allows."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def legacy_pickle(path, data):
    """Write ``data`` as version 1 did: ``pickle.dump(..., HIGHEST_PROTOCOL)``."""
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def call(*argv):
    out, err = io.StringIO(), io.StringIO()
    status = cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def member_data_spans(path):
    """``{member: (start, end)}`` byte offsets of each member's data in the zip file."""
    data = path.read_bytes()
    spans = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            h = info.header_offset
            name_len, extra_len = struct.unpack("<HH", data[h + 26:h + 30])
            start = h + 30 + name_len + extra_len
            spans[info.filename] = (start, start + info.compress_size)
    return spans


def tiny_model():
    return ParallelCNNLSTMAttention(n_classes=3, n_mels=128, n_frames=128, hidden=4, heads=2,
                                    channels=(2, 2, 4, 4))


def random_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 128, 128)).astype(np.float32), rng.integers(0, 3, n)


EXTRAS = {                                   # values a generic tree must carry exactly
    "inf": math.inf, "-inf": -math.inf, "nan": math.nan, "-0.0": -0.0, "tiny": 5e-324,
    "third": 1 / 3, "big": 2 ** 127 + 1, "bools": [True, False, None],
    "np_scalars": [np.float32(0.1), np.float64(1e-300), np.int64(-3), np.bool_(True),
                   np.uint8(255), np.str_("calm"), np.float32("nan")],
    "int_keys": {3: "c", 1: "a", -2: (1, 2)}, "tuple_key": {(1, "x"): [1.5]},
    "marker_like": {"__ndarray__": "a0"}, "marker_and_more": {"__tuple__": 1, "x": 2},
    "nested": ((), [()], {"": {"k": []}}), "arrays": [np.zeros((0, 3), np.float32),
                                                    np.array(7, np.int16),
                                                    np.arange(6, dtype=">f8").reshape(2, 3).T,
                                                    np.array(["low", "high"]),
                                                    np.array([1 + 2j], np.complex64)],
    "unicode": "émotion ☺",
}


# ============================================================================= round trips
@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A 3-epoch run of a tiny model (Adam, plateau scheduler); every payload ``fit`` saved."""
    run_dir = tmp_path_factory.mktemp("fitted")
    saved = []
    real_save = train.save_checkpoint

    def recording_save(path, payload):
        saved.append((path, copy.deepcopy(payload)))
        return real_save(path, payload)

    manual_seed(0)
    model = tiny_model()
    mp = pytest.MonkeyPatch()
    mp.setattr(train, "save_checkpoint", recording_save)
    try:
        fit(model, random_arrays(24, 0), random_arrays(8, 1),
            TrainConfig(epochs=3, batch_size=8, patience=0, progress=False), run_dir,
            meta={"class_names": ["low", "neutral", "high"], "extras": EXTRAS})
    finally:
        mp.undo()
    return run_dir, saved


def test_fit_payloads_round_trip_exactly(fitted):
    run_dir, saved = fitted
    assert len(saved) >= 3                       # last.ckpt every epoch, best.ckpt on improvement
    last_path, last = [(p, d) for p, d in saved if p.name == "last.ckpt"][-1]
    loaded = load_checkpoint(last_path)
    expected = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **last}
    leaves = assert_identical(expected, loaded)
    assert leaves > 200, f"only {leaves} leaves compared"
    # the parts a resume depends on are really in there, with their exact Python types
    assert type(next(iter(loaded["optimizer_state"]["state"]))) is int
    assert isinstance(loaded["optimizer_state"]["param_groups"][0]["betas"], tuple)
    assert loaded["rng_state"]["default"]["state"]["state"] > 2 ** 64    # a 128-bit int
    assert loaded["model_class"] == "ParallelCNNLSTMAttention"
    assert list(loaded["model_state"]) == list(last["model_state"])      # state_dict order
    assert all(v.flags.writeable for v in loaded["model_state"].values())


def test_best_checkpoint_round_trips_and_rebuilds_the_model(fitted):
    run_dir, saved = fitted
    best = [d for p, d in saved if p.name == "best.ckpt"][-1]
    loaded = load_checkpoint(run_dir)                              # the folder reads best.ckpt
    assert_identical({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **best}, loaded)
    model = build_model(loaded)
    for key, value in model.state_dict().items():
        assert value.tobytes() == best["model_state"][key].tobytes(), key


def test_the_file_is_a_zip_of_npy_members_and_one_json_tree(fitted):
    run_dir, _ = fitted
    path = run_dir / "last.ckpt"
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        tree = json.loads(zf.read(JSON_MEMBER))
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert names[0] == JSON_MEMBER
    assert sorted(names[1:], key=lambda n: int(n[1:-4])) == [f"a{k}.npy" for k in range(len(names) - 1)]
    assert tree["format"] == CHECKPOINT_FORMAT and tree["version"] == CHECKPOINT_VERSION
    assert tree["model_class"] == "ParallelCNNLSTMAttention"
    assert tree["meta"]["extras"]["inf"] == {"__float__": "inf"}
    assert tree["meta"]["extras"]["int_keys"]["__dict__"][0] == [3, "c"]
    # np.load reads every array member without unpickling
    with np.load(path, allow_pickle=False) as z:
        first = tree["model_state"]["cnn.0.0.weight"]["__ndarray__"]
        np.testing.assert_array_equal(z[first], load_checkpoint(path)["model_state"]["cnn.0.0.weight"])


def test_the_same_payload_gives_the_same_bytes(tmp_path):
    payload = {"meta": EXTRAS, "w": np.arange(5.0)}
    a = save_checkpoint(tmp_path / "a.ckpt", payload).read_bytes()
    b = save_checkpoint(tmp_path / "b.ckpt", copy.deepcopy(payload)).read_bytes()
    assert a == b


def test_format_and_version_of_the_payload_are_replaced(tmp_path):
    path = save_checkpoint(tmp_path / "c.ckpt", {"format": "x", "version": 99, "epoch": 4})
    assert load_checkpoint(path) == {"format": CHECKPOINT_FORMAT,
                                     "version": CHECKPOINT_VERSION, "epoch": 4}


# ============================================================================ writing refused
class Opaque:
    pass


@pytest.mark.parametrize("value, where, reason", [
    (np.array([1, "a", None], dtype=object), r"checkpoint\['meta'\]\['x'\]", "dtype object"),
    (np.zeros(2, dtype=[("a", "f4"), ("b", "O")]), r"checkpoint\['meta'\]\['x'\]", "Python objects"),
    ({"s": {1, 2}}, r"checkpoint\['meta'\]\['x'\]\['s'\]", "builtins.set"),
    ([Opaque()], r"checkpoint\['meta'\]\['x'\]\[0\]", "Opaque"),
    (np.ma.masked_array([1.0]), r"checkpoint\['meta'\]\['x'\]", "MaskedArray"),
    (OrderedDict(k=b"bytes"), r"checkpoint\['meta'\]\['x'\]\['k'\]", "builtins.bytes"),
])
def test_values_that_need_a_pickle_are_refused_when_writing(tmp_path, value, where, reason):
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, {"epoch": 1})
    with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}: {where}.*{reason}"):
        save_checkpoint(path, {"epoch": 2, "meta": {"x": value}})
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["c.ckpt"]


# ============================================================================ reading refused
@pytest.fixture
def small(tmp_path):
    """A small checkpoint: a few arrays, scalars and markers."""
    return save_checkpoint(tmp_path / "small.ckpt", {
        "model_state": {"w": np.arange(64, dtype=np.float32).reshape(8, 8),
                        "b": np.linspace(0, 1, 16)},
        "meta": {"extras": EXTRAS}, "epoch": 3})


def rewrite_zip(src, dst, replace=None, drop=(), add=None):
    """Copy a zip, replacing, dropping or adding members (name -> bytes)."""
    replace, add = replace or {}, add or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name not in drop:
                zout.writestr(name, replace.get(name, zin.read(name)))
        for name, data in add.items():
            zout.writestr(name, data)
    return dst


def npy_bytes(array, allow_pickle=False):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_every_flipped_byte_of_member_data_is_detected(small):
    data = bytearray(small.read_bytes())
    spans = member_data_spans(small)
    assert len(spans) > 10
    for name, (start, end) in spans.items():
        for pos in (start, (start + end) // 2, end - 1):
            flipped = bytearray(data)
            flipped[pos] ^= 0x01
            bad = small.with_name("flipped.ckpt")
            bad.write_bytes(bytes(flipped))
            with pytest.raises(CheckpointError, match=r"flipped.ckpt cannot be read") as info:
                load_checkpoint(bad)
            assert "CRC" in str(info.value), (name, pos, str(info.value))


def test_truncated_files_are_refused_naming_the_file(small):
    data = small.read_bytes()
    for n in (0, 3, 4, 100, len(data) // 2, len(data) - 22, len(data) - 1):
        cut = small.with_name(f"cut{n}.ckpt")
        cut.write_bytes(data[:n])
        with pytest.raises(CheckpointError, match=rf"cut{n}.ckpt cannot be read"):
            load_checkpoint(cut)


def test_a_zip_without_the_json_member_is_refused(small, tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(3))                 # e.g. explain --npz
    with pytest.raises(CheckpointError, match=f"plain.npz is a zip file without {JSON_MEMBER}"):
        load_checkpoint(tmp_path / "plain.npz")
    rewrite_zip(small, tmp_path / "nojson.ckpt", drop=(JSON_MEMBER,))
    with pytest.raises(CheckpointError, match=f"nojson.ckpt is a zip file without {JSON_MEMBER}"):
        load_checkpoint(tmp_path / "nojson.ckpt")


def test_an_object_array_member_is_refused_without_unpickling(small, tmp_path):
    marker = tmp_path / "ran.txt"
    evil = np.array([Payload(marker), 1], dtype=object)
    with zipfile.ZipFile(small) as zf:
        tree = json.loads(zf.read(JSON_MEMBER))
    name = tree["model_state"]["w"]["__ndarray__"]
    rewrite_zip(small, tmp_path / "object.ckpt", replace={f"{name}.npy": npy_bytes(evil, True)})
    with pytest.raises(CheckpointError, match=rf"object.ckpt: array {name} cannot be read "
                                              r"without unpickling"):
        load_checkpoint(tmp_path / "object.ckpt")
    assert not marker.exists()
    # the same bytes, unpickled, do run the payload: the refusal above is what protected us
    np.lib.format.read_array(io.BytesIO(npy_bytes(evil, True)), allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("change, message", [
    (lambda t, w: {**t, "x": {"__ndarray__": "a999"}},
     "references array 'a999', which the file does not hold"),
    (lambda t, w: {**t, "x": [w, w]}, r"array 'a\d+' is referenced twice"),
    (lambda t, w: t, r"holds arrays \['a\d+'\] that its checkpoint.json does not reference"),
    (lambda t, w: {**t, "x": {"__float__": "big"}}, "__float__ 'big' must be one of"),
    (lambda t, w: {**t, "x": {"__tuple__": [1], "y": 2}}, "mixes the marker '__tuple__'"),
    (lambda t, w: {**t, "x": {"__dict__": [[1, 2, 3]]}}, r"__dict__ entries must be \[key, "),
    (lambda t, w: {**t, "x": {"__dict__": [[[1], 2]]}}, "unhashable type: 'list'"),
    (lambda t, w: {**t, "x": {"__scalar__": w["__ndarray__"]}},
     r"scalar 'a\d+' is an array of shape \(8, 8\)"),
])
def test_malformed_trees_are_refused_naming_the_file(small, tmp_path, change, message):
    with zipfile.ZipFile(small) as zf:
        tree = json.loads(zf.read(JSON_MEMBER))
    w = tree["model_state"].pop("w")            # its member is unreferenced unless change uses it
    bad = rewrite_zip(small, tmp_path / "bad.ckpt",
                      replace={JSON_MEMBER: json.dumps(change(tree, w)).encode()})
    with pytest.raises(CheckpointError, match=f"{re.escape(str(bad))}.*{message}"):
        load_checkpoint(bad)


def test_non_strict_json_and_stray_members_are_refused(small, tmp_path):
    with zipfile.ZipFile(small) as zf:
        text = zf.read(JSON_MEMBER).decode()
    nan = rewrite_zip(small, tmp_path / "nan.ckpt",
                      replace={JSON_MEMBER: text.replace('"epoch": 3', '"epoch": NaN').encode()})
    with pytest.raises(CheckpointError, match="nan.ckpt cannot be read.*holds NaN"):
        load_checkpoint(nan)
    stray = rewrite_zip(small, tmp_path / "stray.ckpt", add={"run.py": b"print(1)"})
    with pytest.raises(CheckpointError, match=r"stray.ckpt has members \['run.py'\]"):
        load_checkpoint(stray)


# ============================================================================ pickles refused
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_run")
    run_dir, df, split = make_tiny_run(root)
    return {"run": run_dir, "paths": df["path"].tolist()[:3]}


def old_format(ckpt):
    """A version-1 payload of a loaded checkpoint, as the old save_checkpoint pickled it."""
    old = {**ckpt, "version": 1,
           "model_class": "minitorch_ser.models.parallel:ParallelCNNLSTMAttention"}
    old["model_state"] = OrderedDict(ckpt["model_state"])
    return old


def test_a_malicious_pickle_runs_nothing_on_load_predict_or_resume(tiny_run, tmp_path):
    marker = tmp_path / "ran.txt"
    ckpt = old_format(load_checkpoint(tiny_run["run"]))
    run = tmp_path / "run"
    run.mkdir()
    for name in ("best.ckpt", "last.ckpt"):
        legacy_pickle(run / name, {**ckpt, "meta": {**ckpt["meta"], "x": Payload(marker)}})
    best = re.escape(str(run / "best.ckpt"))
    hint = rf"{best} is a pickle.*not loaded.*python -m minitorch_ser convert {best} --trusted"
    with pytest.raises(CheckpointError, match=hint):
        load_checkpoint(run)
    with pytest.raises(CheckpointError, match=hint):
        Predictor.load(run)
    status, out, err = call("predict", run, tiny_run["paths"][0])
    assert status == 2 and "is a pickle" in err and "--trusted" in err
    with pytest.raises(CheckpointError, match=r"last.ckpt is a pickle"):
        fit(tiny_model(), random_arrays(8, 0), random_arrays(4, 1),
            TrainConfig(epochs=2, batch_size=4, progress=False), run, resume=True)
    status, out, err = call("convert", run / "best.ckpt")               # not told it is trusted
    assert status == 2 and "--trusted" in err and "run any code" in err
    assert not marker.exists()
    # the payload is live: the file names open() and calls it (REDUCE) when read
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops((run / "best.ckpt").read_bytes())]
    assert ("SHORT_BINUNICODE", "open") in ops and ("REDUCE", None) in ops
    # even told it is trusted, convert rebuilds only arrays and containers: the payload's
    # global (io.open) is refused by name before anything runs
    status, out, err = call("convert", run / "best.ckpt", tmp_path / "new.ckpt", "--trusted")
    assert status == 2 and "names io.open" in err and not (tmp_path / "new.ckpt").exists()
    assert not marker.exists()


def test_convert_trusted_gives_identical_weights_and_predictions(tiny_run, tmp_path):
    ckpt = load_checkpoint(tiny_run["run"])
    old = legacy_pickle(tmp_path / "best.ckpt", old_format(ckpt))
    with pytest.raises(CheckpointError, match=f"{re.escape(str(old))} is a pickle"):
        load_checkpoint(old)

    status, out, err = call("convert", old, tmp_path / "copy.ckpt", "--trusted")  # OLD kept
    assert status == 0, err
    assert old.read_bytes()[:1] == b"\x80"
    status, out, err = call("convert", old, "--trusted")                          # in place
    assert status == 0, err
    assert f"{old}: converted, wrote {old}" in out
    for path in (old, tmp_path / "copy.ckpt"):
        converted = load_checkpoint(path)
        assert converted["model_class"] == "ParallelCNNLSTMAttention"
        assert_identical({k: v for k, v in ckpt.items()}, converted)
    predictions = Predictor.load(old).predict_files(tiny_run["paths"])
    reference = Predictor.load(tiny_run["run"]).predict_files(tiny_run["paths"])
    for a, b in zip(predictions, reference):
        assert a.probabilities.tobytes() == b.probabilities.tobytes()
    status, out, err = call("convert", old, "--trusted")                          # again
    assert status == 0 and "already in the current format" in out


def test_convert_a_run_folder_and_its_refusals(tiny_run, tmp_path):
    ckpt = load_checkpoint(tiny_run["run"])
    run = tmp_path / "run"
    run.mkdir()
    for name in ("best.ckpt", "last.ckpt"):
        legacy_pickle(run / name, old_format(ckpt))
    status, out, err = call("convert", run, "--trusted")
    assert status == 0, err
    for name in ("best.ckpt", "last.ckpt"):
        assert_identical(ckpt, load_checkpoint(run / name))

    status, out, err = call("convert", run, tmp_path / "x.ckpt", "--trusted")
    assert status == 2 and "NEW applies to one file" in err
    unknown = legacy_pickle(tmp_path / "unknown.ckpt",
                            {**old_format(ckpt), "model_class": "mymodels:Transformer"})
    status, out, err = call("convert", unknown, "--trusted")
    assert status == 2
    assert "'mymodels:Transformer', which is not in the model registry" in err
    assert "ParallelCNNLSTMAttention" in err and unknown.read_bytes()[:1] == b"\x80"
    other = legacy_pickle(tmp_path / "other.ckpt", {"weights": [1, 2]})
    with pytest.raises(CheckpointError, match="other.ckpt is a pickle but not a minitorch-ser"):
        convert_legacy(other, trusted=True)
    with pytest.raises(CheckpointError, match="pass trusted=True"):
        convert_legacy(other, trusted=False)


# =========================================================================== model registry
def test_unknown_model_names_are_refused_listing_the_registered_ones():
    with pytest.raises(CheckpointError, match=r"'Transformer' is not in the model registry "
                                              r"\(registered: .*CNNGRUAttention.*"
                                              r"ParallelCNNLSTMAttention"):
        build_model({"model_class": "Transformer", "model_config": {}, "model_state": {}})
    # an old "module:Class" path is a name like any other: nothing is imported by it
    with pytest.raises(CheckpointError, match="'os:system' is not in the model registry"):
        build_model({"model_class": "os:system", "model_config": {}, "model_state": {}})
    assert set(registered_models()) >= {"ParallelCNNLSTMAttention", "CNNGRUAttention",
                                        "CNNLSTMAttention", "CNNLSTMAttentionRegularized"}


class Affine(Module):
    def __init__(self, n_in=2, n_out=3):
        super().__init__()
        self.config = {"n_in": n_in, "n_out": n_out}
        self.fc = Linear(n_in, n_out)

    def forward(self, x):
        return self.fc(x)


def test_registered_classes_round_trip_and_unregistered_ones_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"test_checkpoint_format.Affine is not in the "
                                              r"model registry.*register_model"):
        class_path(Affine())
    register_model(Affine, name="test_checkpoint_format.Affine")
    register_model(Affine, name="test_checkpoint_format.Affine")          # again: no-op
    model = Affine(2, 5)
    path = save_checkpoint(tmp_path / "a.ckpt", {
        "model_class": class_path(model), "model_config": dict(model.config),
        "model_state": model.state_dict()})
    rebuilt = build_model(load_checkpoint(path))
    assert type(rebuilt) is Affine and rebuilt.config == {"n_in": 2, "n_out": 5}
    assert rebuilt.fc.weight.data.tobytes() == model.fc.weight.data.tobytes()

    class Sub(Affine):
        pass

    with pytest.raises(LookupError, match="Sub is not in the model registry"):
        model_name(Sub())
    with pytest.raises(ValueError, match="already belongs to"):
        register_model(Sub, name="test_checkpoint_format.Affine")
    with pytest.raises(ValueError, match="already registered as"):
        register_model(Affine, name="another name")
    assert get_model_class("test_checkpoint_format.Affine") is Affine


# ========================================================================== predict refuses
def test_non_finite_weights_are_refused_naming_the_first(tiny_run, tmp_path):
    ckpt = load_checkpoint(tiny_run["run"])
    names = list(ckpt["model_state"])
    first, later = names[4], names[-1]
    assert ckpt["model_state"][first].dtype.kind == "f"
    for value in (np.nan, np.inf, -np.inf):
        state = {k: v.copy() for k, v in ckpt["model_state"].items()}
        state[later].flat[0] = np.nan
        state[first].flat[-1] = value
        path = save_checkpoint(tmp_path / "diverged.ckpt", {**ckpt, "model_state": state})
        with pytest.raises(CheckpointError, match=rf"{re.escape(str(path))}: weights "
                                                  rf"'{first}' \(\d+,\) hold 1 non-finite "
                                                  rf"value\(s\) \(first: {value} at index"):
            Predictor.load(path)
        status, out, err = call("predict", path, tiny_run["paths"][0])
        assert status == 2 and f"'{first}'" in err


# ============================================================================ feature cache
def test_feature_cache_holds_no_pickles_and_refuses_them(tmp_path):
    """The feature cache is a .npy of numbers and a JSON sidecar (data.store): NumPy reads it
    with allow_pickle=False, and an object array put in its place is refused (so the
    features are recomputed) without being unpickled."""
    marker = tmp_path / "ran.txt"
    X = np.random.default_rng(0).standard_normal((3, 1, 4, 5)).astype(np.float32)
    path = str(tmp_path / "features_x.npy")
    with features.FeatureStore.create(path, X.shape) as store:
        store.write(0, X)
        store.finish(progress={"n_files": 4, "failed": [[1, "b.wav", "b.wav: not audio"]]})
    assert np.load(path, allow_pickle=False).tobytes() == X.tobytes()
    sidecar = json.loads((tmp_path / "features_x.json").read_text())
    assert sidecar["complete"] and sidecar["progress"]["failed"] == [[1, "b.wav",
                                                                      "b.wav: not audio"]]

    np.save(path, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="features_x.npy: dtype=object must be a numeric"):
        features.FeatureStore(path)
    with pytest.warns(UserWarning, match="feature cache .* is unreadable.*dtype=object"):
        assert features._open_cache(path, 3, features.FeatureConfig()) is None
    assert not marker.exists()


def test_convert_refuses_object_arrays_in_a_legacy_pickle(tmp_path):
    old = legacy_pickle(tmp_path / "old.ckpt", {"format": "minitorch-ser-checkpoint",
                                                "version": 1,
                                                "x": np.array([{"a": 1}], dtype=object)})
    status, out, err = call("convert", old, tmp_path / "new.ckpt", "--trusted")
    assert status == 2 and "has dtype object" in err
    assert not (tmp_path / "new.ckpt").exists()
