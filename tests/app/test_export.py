"""Export to PyTorch's side: ``.safetensors`` weights and the JSON sidecar (app/export.py).

One tiny model is trained (``inference_helpers.make_tiny_run``) and exported. The file is read
back with safetensors' NumPy API (no PyTorch here: benchmarks/torch_twins.py loads it into the
torch.nn twins), and the sidecar is proved sufficient by rebuilding the predictor's numbers from
the two files alone. Tests that write need safetensors (``pip install -e ".[export]"``) and skip
without it; the refusal without it is tested by hiding the module.
"""

import copy
import io
import json
import os
import re
import shutil
import sys

import numpy as np
import pytest

import minitorch_ser
from minitorch_ser.app import cli
from minitorch_ser.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from minitorch_ser.app.export import EXPORT_FORMAT, MissingExtraError, export
from minitorch_ser.app.inference import Predictor
from minitorch_ser.autograd.tensor import Tensor, no_grad
from minitorch_ser.data.features import Standardizer
from minitorch_ser.models.registry import get_model_class

from inference_helpers import make_tiny_run

INSTALL_LINE = 'pip install -e ".[export]"'


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    run_dir, _, _ = make_tiny_run(root)
    return {"run": run_dir, "checkpoint": load_checkpoint(run_dir),
            "predictor": Predictor.load(run_dir)}


def safetensors_numpy():
    return pytest.importorskip("safetensors.numpy")


def call(*argv):
    """Run ``cli.main`` in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = cli.main([str(a) for a in argv], stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def leftovers(folder):
    """Temporary files an interrupted write would leave (``.<name>.<random>.tmp``)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ===================================================================================== weights
def test_every_state_dict_entry_is_written_with_identical_values(tiny, tmp_path):
    st = safetensors_numpy()
    out = tmp_path / "model.safetensors"
    done = export(tiny["run"], out)
    loaded = st.load_file(out)
    state = tiny["predictor"].model.state_dict()
    assert sorted(loaded) == sorted(state)
    assert done["tensors"] == len(state)
    for name, expected in state.items():
        got = loaded[name]
        assert got.shape == expected.shape, (name, got.shape, expected.shape)
        if expected.dtype.kind == "f":
            assert got.dtype == np.float32, (name, got.dtype)
        else:                                   # BatchNorm's num_batches_tracked, as PyTorch
            assert name.endswith("num_batches_tracked") and got.dtype == np.int64, (name, got.dtype)
        np.testing.assert_array_equal(got, expected, err_msg=name)
    counters = [v for k, v in loaded.items() if k.endswith("num_batches_tracked")]
    assert counters and all(int(c) > 0 for c in counters)   # trained: the counters moved
    parameters = sum(p.data.size for p in tiny["predictor"].model.parameters())
    assert done["parameters"] == parameters


def test_header_metadata_says_pytorch_format_and_the_model(tiny, tmp_path):
    safetensors_numpy()
    from safetensors import safe_open
    out = tmp_path / "model.safetensors"
    export(tiny["run"], out)
    with safe_open(out, framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "pt"
    assert meta["model_class"] == tiny["checkpoint"]["model_class"]
    assert json.loads(meta["model_config"]) == json.loads(
        json.dumps(tiny["checkpoint"]["model_config"]))
    assert meta["producer"] == f"minitorch-ser {minitorch_ser.__version__}"


# ===================================================================================== sidecar
def test_sidecar_holds_the_model_classes_features_and_statistics(tiny, tmp_path):
    safetensors_numpy()
    out = tmp_path / "sub" / "model.safetensors"          # a missing folder is created
    done = export(tiny["run"], out)
    sidecar = tmp_path / "sub" / "model.json"
    assert done["sidecar"] == str(sidecar) and done["path"] == str(out)
    side = json.loads(sidecar.read_text())
    ckpt, p = tiny["checkpoint"], tiny["predictor"]
    assert side["format"] == EXPORT_FORMAT and side["weights"] == "model.safetensors"
    assert side["model_class"] == ckpt["model_class"] == "ParallelCNNLSTMAttention"
    assert side["model_config"] == json.loads(json.dumps(ckpt["model_config"]))
    assert side["class_names"] == list(p.class_names) == ckpt["meta"]["class_names"]
    assert side["feature_config"] == p.feature_config.to_dict() == ckpt["meta"]["feature_config"]
    assert side["input_shape"] == list(p.feature_config.shape)
    assert side["normalize"] == "global"                   # the checkpoint has no key: default
    assert "normalize" not in ckpt["meta"]
    stats = side["standardizer"]
    assert stats["mode"] == p.standardizer.mode and stats["eps"] == p.standardizer.eps
    np.testing.assert_array_equal(np.array(stats["mean"], np.float32), p.standardizer.mean_)
    np.testing.assert_array_equal(np.array(stats["std"], np.float32), p.standardizer.std_)
    assert side["source"] == os.path.abspath(tiny["run"] / "best.ckpt") == done["source"]
    assert side["minitorch_ser_version"] == minitorch_ser.__version__
    assert side["tensors"] == done["tensors"] and side["parameters"] == done["parameters"]


def test_the_two_files_alone_reproduce_the_predictors_probabilities(tiny, tmp_path):
    """Rebuild model and normalization from the export only; same probabilities as predict."""
    st = safetensors_numpy()
    out = tmp_path / "model.safetensors"
    export(tiny["run"], out)
    side = json.loads(out.with_suffix(".json").read_text())
    model = get_model_class(side["model_class"])(**side["model_config"])
    model.load_state_dict(st.load_file(out), strict=True)
    model.eval()
    standardizer = Standardizer.from_state_dict(side["standardizer"])
    x = np.random.default_rng(0).normal(-40.0, 15.0, (3, *side["input_shape"])).astype(np.float32)
    with no_grad():
        z = model(Tensor(standardizer.transform(x))).data.astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(axis=1, keepdims=True),
                               tiny["predictor"].predict_logmel(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["utterance", "speaker"])
def test_a_normalization_without_training_statistics_writes_null(tiny, tmp_path, mode):
    safetensors_numpy()
    ckpt = copy.deepcopy(tiny["checkpoint"])
    ckpt["meta"]["normalize"] = mode
    save_checkpoint(tmp_path / "run" / "best.ckpt", ckpt)
    export(tmp_path / "run", tmp_path / "m.safetensors")
    side = json.loads((tmp_path / "m.json").read_text())
    assert side["normalize"] == mode and side["standardizer"] is None


# =============================================================================== file handling
@pytest.mark.parametrize("existing", ["model.safetensors", "model.json"])
def test_an_existing_output_is_refused_naming_it_and_left_unchanged(tiny, tmp_path, existing):
    safetensors_numpy()
    (tmp_path / existing).write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match=re.escape(str(tmp_path / existing))):
        export(tiny["run"], tmp_path / "model.safetensors")
    assert (tmp_path / existing).read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


def test_overwrite_replaces_both_files(tiny, tmp_path):
    st = safetensors_numpy()
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"old weights")
    out.with_suffix(".json").write_text("{}")
    export(tiny["run"], out, overwrite=True)
    assert sorted(st.load_file(out)) == sorted(tiny["predictor"].model.state_dict())
    assert json.loads(out.with_suffix(".json").read_text())["format"] == EXPORT_FORMAT
    assert leftovers(tmp_path) == []


def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tiny, tmp_path, monkeypatch):
    st = safetensors_numpy()
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"old weights")

    def half_then_interrupt(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x00" * 100)                       # half a file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(st, "save_file", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        export(tiny["run"], out, overwrite=True)
    assert out.read_bytes() == b"old weights"
    assert leftovers(tmp_path) == [] and not out.with_suffix(".json").exists()


def test_out_path_must_end_in_safetensors(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        export(tiny["run"], tmp_path / "model.json")
    assert list(tmp_path.iterdir()) == []


def test_without_safetensors_the_error_gives_the_install_line(tiny, tmp_path, monkeypatch):
    # None in sys.modules makes `import safetensors.numpy` raise ImportError, installed or not
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(MissingExtraError, match=re.escape(INSTALL_LINE)) as info:
        export(tiny["run"], tmp_path / "model.safetensors")
    assert isinstance(info.value, ImportError)
    status, out, err = call("export", tiny["run"], tmp_path / "model.safetensors")
    assert status == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and INSTALL_LINE in err
    assert list(tmp_path.iterdir()) == []


def test_a_fold_folder_is_refused_saying_to_export_one_fold(tiny, tmp_path):
    safetensors_numpy()
    for k in (1, 2, 3):
        (tmp_path / "cv" / f"fold{k}").mkdir(parents=True)
        shutil.copy(tiny["run"] / "best.ckpt", tmp_path / "cv" / f"fold{k}" / "best.ckpt")
    with pytest.raises(CheckpointError, match=r"3 folds \(fold1, fold2, fold3\).*export one "
                                              r"fold.*export \S*fold1 fold1\.safetensors"):
        export(tmp_path / "cv", tmp_path / "cv.safetensors")
    assert not (tmp_path / "cv.safetensors").exists()
    # one fold's folder is a run folder like any other
    assert export(tmp_path / "cv" / "fold2", tmp_path / "fold2.safetensors")["tensors"] > 0


# ==================================================================================== command
def test_cli_export_writes_both_files_and_says_what(tiny, tmp_path):
    st = safetensors_numpy()
    out = tmp_path / "model.safetensors"
    status, stdout, err = call("export", tiny["run"], out)
    assert status == 0, err
    n = len(tiny["predictor"].model.state_dict())
    parameters = sum(p.data.size for p in tiny["predictor"].model.parameters())
    lines = stdout.splitlines()
    assert lines[0].startswith(f"wrote {out}: {n} tensors, {parameters:,} parameters")
    assert lines[1].startswith(f"wrote {tmp_path / 'model.json'}: ")
    assert len(st.load_file(out)) == n

    status, stdout, err = call("export", tiny["run"], out)         # again, without --overwrite
    assert status == 2 and stdout == ""
    assert err == f"error: {out} exists; pass overwrite=True (--overwrite) to replace it\n"

    status, _, err = call("export", tiny["run"], out, "--overwrite")
    assert status == 0, err


@pytest.mark.parametrize("target, message", [
    ("missing", r"does not exist"),
    ("cv", r"export one fold"),
])
def test_cli_export_of_an_unusable_source_exits_2_with_one_error_line(tiny, tmp_path, target,
                                                                     message):
    safetensors_numpy()
    if target == "cv":
        for k in (1, 2):
            (tmp_path / "cv" / f"fold{k}").mkdir(parents=True)
            shutil.copy(tiny["run"] / "best.ckpt", tmp_path / "cv" / f"fold{k}" / "best.ckpt")
    status, stdout, err = call("export", tmp_path / target, tmp_path / "m.safetensors")
    assert status == 2 and stdout == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and re.search(message, err), err
    assert not (tmp_path / "m.safetensors").exists()
