"""The command line starts without loading what its commands do not need.

``python -m minitorch_ser predict|stream|explain`` should answer at once: importing the
command line must not load pandas (the dataset tables), scipy.signal (resampling, filters) or
matplotlib (plots), which together took about a second. Each check runs in a fresh interpreter,
since this test process has long imported all of them.
"""

import json
import subprocess
import sys

import numpy as np
from audio_backend import soundfile_or_skip

from minitorch_ser.app.checkpoint import class_path, save_checkpoint
from minitorch_ser.data.features import FeatureConfig, Standardizer
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention

sf = soundfile_or_skip()

HEAVY = ("pandas", "scipy.signal", "matplotlib")


def _loaded_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; return {module: loaded?} for HEAVY afterwards."""
    probe = (f"{code}\n"
             "import json, sys\n"
             f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_the_command_line_loads_no_heavy_dependency():
    loaded = _loaded_after("import minitorch_ser.app.cli")
    assert loaded == {m: False for m in HEAVY}, loaded


def test_import_dsp_loads_no_heavy_dependency():
    loaded = _loaded_after("import dsp")
    assert loaded == {m: False for m in HEAVY}, loaded


def _tiny_checkpoint(path, config: FeatureConfig) -> None:
    """An untrained tiny ParallelCNNLSTMAttention with everything ``Predictor.load`` reads."""
    shape = config.shape
    model = ParallelCNNLSTMAttention(n_classes=3, n_mels=shape[1], n_frames=shape[2], hidden=4,
                                     heads=2, channels=(2, 2, 2, 2))
    rng = np.random.default_rng(0)
    standardizer = Standardizer().fit(rng.standard_normal((4,) + shape).astype(np.float32))
    save_checkpoint(path, {
        "model_class": class_path(model), "model_config": dict(model.config),
        "model_state": model.state_dict(),
        "meta": {"class_names": ["low", "neutral", "high"], "feature_config": config.to_dict(),
                 "standardizer": standardizer.state_dict()}})


def test_predict_stream_and_explain_run_without_heavy_dependencies(tmp_path):
    # a 16 kHz file, the checkpoint's rate: nothing to resample
    config = FeatureConfig(duration=2.1)                              # (1, 128, 132)
    ckpt, wav = tmp_path / "tiny.ckpt", tmp_path / "a.wav"
    _tiny_checkpoint(ckpt, config)
    t = np.arange(int(2.5 * config.sr)) / config.sr
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), config.sr)
    code = (
        "import io\n"
        "from minitorch_ser.app import cli\n"
        f"for argv in (['predict', {str(ckpt)!r}, {str(wav)!r}],\n"
        f"             ['stream', {str(ckpt)!r}, {str(wav)!r}, '--window', '2.1', '--hop', '0.2'],\n"
        f"             ['explain', {str(ckpt)!r}, {str(wav)!r}]):\n"
        "    out, err = io.StringIO(), io.StringIO()\n"
        "    status = cli.main(argv, stdout=out, stderr=err)\n"
        "    assert status == 0 and out.getvalue(), (argv, status, err.getvalue())\n")
    loaded = _loaded_after(code)
    assert loaded == {m: False for m in HEAVY}, loaded
