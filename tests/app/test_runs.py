"""Run folders: no clobbering, one process per folder, resume only the same run, interruptions."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minitorch_ser.app import runs
from minitorch_ser.data import synthetic

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "baved_parallel.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("baved_parallel_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs_audio")
    synthetic.make_dataset(root, n_speakers=4, n_words=2, clips_per=1, seed=2)
    return root


def _args(audio, out, cache, *more):
    return ["--data", str(audio), "--epochs", "1", "--copies", "0", "--out", str(out),
            "--cache-dir", str(cache), *more]


def test_a_finished_run_is_not_clobbered(script, audio, tmp_path, capsys):
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert script.main(_args(audio, out, cache)) == 0
    best = (out / "best.ckpt").read_bytes()
    assert script.main(_args(audio, out, cache, "--epochs", "2")) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert "another --out" in err
    assert (out / "best.ckpt").read_bytes() == best            # untouched
    (out / "notes.txt").write_text("mine")
    assert script.main(_args(audio, out, cache, "--overwrite", "--seed", "1")) == 0
    assert (out / "notes.txt").read_text() == "mine"           # only the run's files go
    assert (out / "best.ckpt").read_bytes() != best


def test_resume_refuses_other_settings_and_data_but_extends_epochs(script, audio, tmp_path,
                                                                   capsys):
    out, cache = tmp_path / "run", tmp_path / "cache"
    assert script.main(_args(audio, out, cache)) == 0
    config = (out / "config.json").read_text()
    assert script.main(_args(audio, out, cache, "--resume", "--lr", "0.01",
                             "--batch-size", "8")) == 2
    err = capsys.readouterr().err
    assert "--lr: 0.001 -> 0.01" in err and "--batch-size: 32 -> 8" in err
    assert (out / "config.json").read_text() == config           # nothing was written
    other = tmp_path / "other"
    synthetic.make_dataset(other, n_speakers=4, n_words=2, clips_per=1, seed=3)
    assert script.main(_args(other, out, cache, "--resume")) == 2
    assert "audio content differ" in capsys.readouterr().err
    assert script.main(_args(audio, out, cache, "--resume", "--epochs", "2",
                             "--patience", "3")) == 0
    assert runs.completed_epochs(out) == 2


def test_a_second_process_on_the_same_folder_is_refused(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from minitorch_ser.app import runs; "
         f"lock = runs.claim({str(tmp_path)!r}); print('locked', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(runs.RunFolderError, match=f"process {holder.pid}"):
            runs.claim(tmp_path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    runs.claim(tmp_path).release()                             # free once the holder ended


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    with pytest.raises(runs.RunFolderError, match="exclude each other"):
        runs.claim(tmp_path, resume=True, overwrite=True)


def test_fingerprint_differences_list_each_change():
    split = {"train": [0, 1], "val": [2], "test": [3]}
    a = runs.fingerprint({"lr": 1e-3, "epochs": 5, "seed": 0}, list("abcd"), [0, 1, 0, 1], split)
    same = runs.fingerprint({"lr": 1e-3, "epochs": 9, "seed": 0}, list("abcd"), [0, 1, 0, 1],
                            split)
    assert runs.fingerprint_differences(a, same) == []           # epochs may change
    b = runs.fingerprint({"lr": 1e-2, "epochs": 5, "seed": 0}, list("abce"), [0, 1, 1, 1],
                         {"train": [0, 2], "val": [1], "test": [3]})
    assert runs.fingerprint_differences(a, b) == [
        "audio content differ", "labels differ", "split differ", "--lr: 0.001 -> 0.01"]
    assert "no fingerprint" in runs.fingerprint_differences(None, a)[0]


def test_resume_command_adds_resume_and_drops_overwrite():
    assert runs.resume_command(["x.py", "--out", "r", "--overwrite"]) == \
        "python x.py --out r --resume"
    assert runs.resume_command(["x.py", "--resume"]) == "python x.py --resume"


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_run_says_how_to_continue(audio, tmp_path, sig, code):
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--data", str(audio), "--epochs", "200", "--copies", "0",
         "--patience", "0", "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        # as from a terminal: a shell's background job would start with SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while runs.completed_epochs(out) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines[-1].startswith("interrupted at epoch ")
    assert lines[-1].endswith(f"--cache-dir {tmp_path / 'cache'} --resume")
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]   # no temporary files left
    assert (out / "last.ckpt").is_file()


def test_the_demo_audio_is_generated_once(script, tmp_path, monkeypatch):
    calls = []
    real = synthetic.make_dataset
    monkeypatch.setattr(script.synthetic, "make_dataset",
                        lambda root, **kw: calls.append(root) or real(root, **kw))
    cfg = script.parse_args(["--demo", "--cache-dir", str(tmp_path / "cache")])
    first, demo = script.resolve_data(cfg)
    again, _ = script.resolve_data(cfg)
    assert demo and first == again and len(calls) == 1
    assert len(list(first.rglob("*.wav"))) == 144


def _disk_full_after(n_bytes):
    """A writer that puts ``n_bytes`` on disk, then fails as a full disk does."""
    import errno

    def write(fileobj, *args, **kwargs):
        fileobj.write(b"\0" * n_bytes)
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


def test_disk_full_while_checkpointing_names_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    import numpy as np

    from minitorch_ser.app.checkpoint import load_checkpoint, save_checkpoint
    path = tmp_path / "last.ckpt"
    save_checkpoint(path, {"epoch": 1, "w": np.ones(3)})
    monkeypatch.setattr(np.lib.format, "write_array", _disk_full_after(2_000_000))
    with pytest.raises(OSError, match=f"cannot write checkpoint {path}: No space left"):
        save_checkpoint(path, {"epoch": 2, "w": np.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
    assert load_checkpoint(path)["epoch"] == 1                  # the old one is intact


def test_disk_full_while_caching_features_warns_and_leaves_nothing(tmp_path, monkeypatch):
    import numpy as np

    from minitorch_ser.data import features
    paths = synthetic.make_dataset(tmp_path / "a", n_speakers=1, n_words=1, seed=0)
    cache = tmp_path / "cache"

    from minitorch_ser.data.store import FeatureStore

    def write(self, start, rows):
        with open(self.path, "r+b") as f:
            f.seek(0, 2)
            _disk_full_after(2_000_000)(f)
    monkeypatch.setattr(FeatureStore, "write", write)
    with pytest.warns(UserWarning, match=f"could not write the feature cache {cache}.*No space"):
        result = features.extract(paths, cache_dir=cache, progress=False)
    assert len(result.X) == 3 and list(cache.iterdir()) == []
    np.testing.assert_array_equal(result.X, features.extract(paths, cache_dir=None,
                                                              progress=False).X)


def test_a_full_disk_ends_the_script_with_one_line(script, audio, tmp_path, monkeypatch, capsys):
    import errno

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "cannot write checkpoint x/last.ckpt: No space left",
                      "x/last.ckpt")
    monkeypatch.setattr(script, "train_model", full)
    assert script.main(_args(audio, tmp_path / "run", tmp_path / "cache")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: [Errno 28] cannot write checkpoint x/last.ckpt")
    assert "--resume" in err[-1]
