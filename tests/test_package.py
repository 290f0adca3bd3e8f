"""``import minitorch_ser as mt``: the subpackages are reachable as attributes (as in torch), and
the import stays light (NumPy only; pandas, scipy and soundfile load with ``mt.data``)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import minitorch_ser as mt

HEAVY = ("pandas", "scipy", "soundfile", "matplotlib")


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter and return the JSON it prints."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_subpackages_resolve_as_attributes():
    from minitorch_ser.data import splits
    from minitorch_ser.nn.linear import Linear
    from minitorch_ser.optim.adam import Adam

    assert mt.nn.Linear is Linear
    assert mt.optim.Adam is Adam
    assert mt.data.splits is splits
    assert mt.models.__name__ == "minitorch_ser.models" and mt.app.__name__ == "minitorch_ser.app"
    layer = mt.nn.Linear(3, 2)
    opt = mt.optim.Adam(layer.parameters(), lr=0.1)
    assert len(opt.param_groups[0]["params"]) == 2


def test_an_unknown_attribute_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="'minitorch_ser' has no attribute 'nonexistent'"):
        mt.nonexistent  # noqa: B018
    assert not hasattr(mt, "nonexistent")


def test_dir_lists_the_lazy_subpackages():
    assert {"nn", "optim", "data", "models", "app", "Tensor"} <= set(dir(mt))


def test_import_loads_nn_and_optim_but_no_heavy_dependency():
    loaded = _fresh(
        "import json, sys\n"
        "import minitorch_ser as mt\n"
        f"print(json.dumps({{m: m in sys.modules for m in {HEAVY + ('minitorch_ser.nn', 'minitorch_ser.optim', 'minitorch_ser.data')!r}}}))\n")
    assert loaded["minitorch_ser.nn"] and loaded["minitorch_ser.optim"]
    assert not any(loaded[m] for m in HEAVY + ("minitorch_ser.data",)), loaded


def test_first_access_to_data_imports_it_and_its_dependencies():
    # the other half of the test above: the lazy path really loads the module
    loaded = _fresh(
        "import json, sys\n"
        "import minitorch_ser as mt\n"
        "mt.data.splits\n"
        "print(json.dumps({m: m in sys.modules for m in ('pandas', 'minitorch_ser.data')}))\n")
    assert loaded == {"pandas": True, "minitorch_ser.data": True}


def test_importing_every_data_module_needs_no_scipy():
    """Test modules import minitorch_ser.data's modules (synthetic among them) at collection;
    SciPy is loaded only when audio is generated or transformed, so that importing them (and
    collecting the tests) works where SciPy cannot be imported."""
    loaded = _fresh(
        "import json, sys\n"
        "sys.modules['scipy'] = None  # any 'import scipy...' now raises ImportError\n"
        "from minitorch_ser.data import (augment, baved, corpora, crema_d, crosscorpus,\n"
        "    duplicates, features, loader, manifest, normalized, splits, store, synthetic)\n"
        "import minitorch_ser.app.experiment, minitorch_ser.app.training\n"
        "print(json.dumps({'scipy': sys.modules.get('scipy') is not None}))\n")
    assert loaded == {"scipy": False}


def test_without_soundfile_the_modules_import_and_a_wav_is_read_with_numpy(tmp_path):
    """Where soundfile cannot be loaded (not installed, or no libsndfile), importing the
    package's modules still works and a PCM WAV is decoded by dsp.io's NumPy reader; the
    file is written here with the standard library's wave module."""
    import wave
    samples = (np.arange(800) % 50 * 600 - 15000).astype("<i2")
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(samples.tobytes())
    loaded = _fresh(
        "import json, sys\n"
        "sys.modules['soundfile'] = None  # any 'import soundfile' now raises ImportError\n"
        "from minitorch_ser.data import (augment, baved, corpora, crema_d, crosscorpus,\n"
        "    duplicates, features, loader, manifest, normalized, splits, store, synthetic)\n"
        "import minitorch_ser.app.experiment, minitorch_ser.app.training\n"
        "import dsp\n"
        f"y, sr = dsp.load({str(path)!r}, sr=None)\n"
        "print(json.dumps({'sr': sr, 'y': [float(v) for v in y]}))\n")
    assert loaded["sr"] == 8000
    np.testing.assert_array_equal(np.asarray(loaded["y"], np.float32),
                                  samples.astype(np.float32) / 32768)
