"""``python -m minitorch_ser predict | stream | explain``: in-process through ``cli.main``, plus
one subprocess smoke test of the real entry point."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from audio_backend import soundfile_or_skip

import dsp
from minitorch_ser.app import cli, plots
from minitorch_ser.app.inference import Predictor

from inference_helpers import SR, make_tiny_run, recording

sf = soundfile_or_skip()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    run_dir, df, split = make_tiny_run(root)
    talk = root / "talk.wav"
    pcm = np.round(recording() * 32767).astype("<i2")               # 6.0 s of 16-bit PCM
    sf.write(talk, pcm, SR, subtype="PCM_16")
    return {"run": run_dir, "paths": df["path"].tolist(), "talk": talk, "pcm": pcm,
            "predictor": Predictor.load(run_dir)}


def call(*argv, stdin=None):
    """Run ``cli.main`` in-process; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    status = cli.main([str(a) for a in argv], stdin=stdin, stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return rows


# ==================================================================================== predict
def test_predict_prints_a_table_of_labels_and_probabilities(tiny):
    paths = tiny["paths"][:4]
    status, out, err = call("predict", tiny["run"], *paths)
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["file", "label", "low", "neutral", "high"]
    expected = tiny["predictor"].predict_files(paths)
    for line, r in zip(lines[1:], expected):
        file, label, *probs = line.split()
        assert (file, label) == (r.source, r.label)
        np.testing.assert_allclose([float(p) for p in probs], r.probabilities, atol=5e-4)
    assert len(lines) == 1 + len(paths)


def test_predict_json_reports_bad_files_by_name_and_exits_1(tiny, tmp_path):
    (tmp_path / "notes.txt").write_text("not audio")
    files = [tiny["paths"][0], tmp_path / "missing.wav", tmp_path / "notes.txt", tiny["paths"][1]]
    status, out, err = call("predict", tiny["run"] / "best.ckpt", *files, "--json")
    assert status == 1
    doc = json.loads(out)
    assert doc["class_names"] == ["low", "neutral", "high"]
    results = doc["results"]
    assert [r["file"] for r in results] == [str(f) for f in files]
    assert "no such file" in results[1]["error"] and "cannot decode" in results[2]["error"]
    for r, ref in zip([results[0], results[3]], tiny["predictor"].predict_files(tiny["paths"][:2])):
        assert r["label"] == ref.label
        assert list(r["probabilities"].values()) == pytest.approx(ref.probabilities.tolist())
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: {results[1]['error']}", f"error: {results[2]['error']}"]
    assert str(tmp_path / "missing.wav") in errors[0] and "notes.txt" in errors[1]


def test_predict_table_marks_errors_and_notes_trimmed_files(tiny, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, tiny["pcm"], SR, subtype="PCM_16")
    status, out, err = call("predict", tiny["run"], long, tmp_path / "gone.wav")
    assert status == 1
    assert f"{tmp_path / 'gone.wav'}  ERROR: no such file" in out
    assert f"note: {long} lasts 6.00 s; the model saw its first 2.1 s" in err


def _flac(path, pcm, total_samples=None):
    """Write 16-bit ``pcm`` as a FLAC at SR; optionally patch STREAMINFO's 36-bit total-samples
    field (low 4 bits of file byte 21, then bytes 22..25: after "fLaC", the 4-byte block
    header and 13 bytes of STREAMINFO) to ``total_samples``, as streaming encoders leave it."""
    sf.write(path, pcm, SR, format="FLAC", subtype="PCM_16")
    if total_samples is not None:
        raw = bytearray(path.read_bytes())
        assert raw[:4] == b"fLaC" and raw[4] & 0x7F == 0                 # STREAMINFO first
        assert ((raw[21] & 0x0F) << 32) | int.from_bytes(raw[22:26], "big") == len(pcm)
        raw[21] = (raw[21] & 0xF0) | (total_samples >> 32)
        raw[22:26] = (total_samples & 0xFFFFFFFF).to_bytes(4, "big")
        path.write_bytes(bytes(raw))
    return path


def test_predict_reports_the_decoded_duration_not_the_headers(tiny, tmp_path):
    streamed = _flac(tmp_path / "streamed.flac", tiny["pcm"], total_samples=0)  # 6.0 s
    whole = _flac(tmp_path / "whole.flac", tiny["pcm"])
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[:len(whole.read_bytes()) // 3])
    with pytest.warns(dsp.io.AudioTruncatedWarning):
        y_cut, _ = dsp.load(cut)
    status, out, err = call("predict", tiny["run"], streamed, cut, "--json")
    assert status == 0
    first, second = json.loads(out)["results"]
    assert first["duration_s"] == pytest.approx(6.0) and first["trimmed"] is True
    assert f"note: {streamed} lasts 6.00 s" in err
    assert second["duration_s"] == pytest.approx(len(y_cut) / SR) and len(y_cut) < 2 * SR
    assert f"warning: {cut}: decoding stopped at {len(y_cut) / SR:.3f} s" in err
    # the model saw what decoded: the same prediction as for those samples in memory
    ref = tiny["predictor"].predict_waves([y_cut], SR)[0]
    assert second["label"] == ref.label
    assert list(second["probabilities"].values()) == pytest.approx(ref.probabilities.tolist(),
                                                                   abs=1e-6)


def test_unusable_checkpoint_exits_2_with_the_reason(tiny, tmp_path):
    (tmp_path / "x.ckpt").write_bytes(b"garbage")
    status, out, err = call("predict", tmp_path / "x.ckpt", tiny["paths"][0])
    assert status == 2 and out == ""
    assert err.startswith("error: checkpoint ") and "x.ckpt cannot be read" in err


def test_subprocess_python_dash_m_predict(tiny):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "minitorch_ser", "predict", str(tiny["run"]),
                           tiny["paths"][2], "--json"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)["results"]
    assert result["label"] == tiny["predictor"].predict_files([tiny["paths"][2]])[0].label


# ===================================================================================== stream
def test_stream_file_prints_a_timeline_and_writes_csv(tiny, tmp_path):
    status, out, err = call("stream", tiny["run"], tiny["talk"], "--hop", "0.5",
                            "--csv", tmp_path / "t.csv")
    assert status == 0
    expected = list(tiny["predictor"].stream(tiny["talk"], hop=0.5))
    rows = read_csv(tmp_path / "t.csv")
    assert len(rows) == len(expected) == 9                # starts 0, 0.5, ..., 3.5; 3.9 ends
    for row, w in zip(rows, expected):
        assert float(row["start_s"]) == pytest.approx(w.start_s, abs=1e-4)
        assert float(row["end_s"]) == pytest.approx(w.end_s, abs=1e-4)
        probs = [float(row[f"p_{n}"]) for n in ("low", "neutral", "high")]
        np.testing.assert_allclose(probs, w.probabilities, atol=1e-6)
        assert row["label"] == ("low", "neutral", "high")[int(np.argmax(w.probabilities))]
    assert float(rows[-1]["end_s"]) == pytest.approx(6.0)
    lines = out.strip().splitlines()
    assert lines[0].split() == ["start_s", "end_s", "label", "low", "neutral", "high"]
    assert [line.split()[:3] for line in lines[1:]] == [
        [f"{float(r['start_s']):.2f}", f"{float(r['end_s']):.2f}", r["label"]] for r in rows]
    assert "9 windows over 6.00 s of audio" in err and "real-time factor" in err


def test_stream_from_stdin_equals_stream_from_the_file(tiny, tmp_path):
    call("stream", tiny["run"], tiny["talk"], "--csv", tmp_path / "file.csv")
    stdin = io.BytesIO(tiny["pcm"].tobytes())
    status, out, err = call("stream", tiny["run"], "-", "--csv", tmp_path / "live.csv",
                            stdin=stdin)
    assert status == 0
    from_file, live = read_csv(tmp_path / "file.csv"), read_csv(tmp_path / "live.csv")
    assert len(live) == len(from_file) > 5
    for a, b in zip(live, from_file):
        assert (a["start_s"], a["end_s"], a["label"]) == (b["start_s"], b["end_s"], b["label"])
        for n in ("low", "neutral", "high"):
            assert float(a[f"p_{n}"]) == pytest.approx(float(b[f"p_{n}"]), abs=2e-6)


def test_stream_stdin_at_another_rate_with_sr(tiny, tmp_path):
    pcm8k = tiny["pcm"][:48000:2].copy()                             # 3.0 s at 8 kHz
    status, out, err = call("stream", tiny["run"], "-", "--sr", 8000, "--window", 1.0,
                            "--hop", 0.25, "--csv", tmp_path / "t.csv",
                            stdin=io.BytesIO(pcm8k.tobytes()))
    assert status == 0
    rows = read_csv(tmp_path / "t.csv")
    starts = [float(r["start_s"]) for r in rows]
    assert starts == pytest.approx(np.arange(9) * 0.25)             # (3.0 - 1.0) / 0.25 + 1
    assert float(rows[-1]["end_s"]) == pytest.approx(3.0)
    samples = pcm8k.astype(np.float32) / 32768
    ref = tiny["predictor"].predict_waves([samples[2000 * k:2000 * k + 8000] for k in range(9)],
                                          8000)
    for row, r in zip(rows, ref):
        assert row["label"] == r.label
        probs = [float(row[f"p_{n}"]) for n in ("low", "neutral", "high")]
        np.testing.assert_allclose(probs, r.probabilities, atol=2e-6)


@pytest.mark.parametrize("argv, message", [
    (["--window", "5"], "window=5.0 s must be <= the training clip length 2.1 s"),
    (["--hop", "0"], "hop=0.0 must satisfy 0 < hop"),
    (["--sr", "8000"], "--sr applies to raw PCM on standard input"),
])
def test_stream_bad_settings_exit_2(tiny, argv, message):
    status, out, err = call("stream", tiny["run"], tiny["talk"], *argv)
    assert status == 2 and message in err


@pytest.mark.parametrize("data", [b"", b"\x01"], ids=["nothing", "one byte"])
def test_stream_empty_stdin_exits_2_saying_no_samples_arrived(tiny, tmp_path, data):
    status, out, err = call("stream", tiny["run"], "-", "--csv", tmp_path / "t.csv",
                            stdin=io.BytesIO(data))
    assert status == 2 and out == ""
    assert err.startswith("error: standard input: no samples were received")
    assert "16-bit little-endian mono PCM at 16000 Hz" in err
    assert not (tmp_path / "t.csv").exists()


def test_stream_sr_must_be_positive(tiny, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call("stream", tiny["run"], "-", "--sr", "0", stdin=io.BytesIO(b""))
    assert exit_info.value.code == 2
    assert "argument --sr: 0 is not an integer >= 1" in capsys.readouterr().err


def test_stream_csv_into_a_missing_folder_creates_it(tiny, tmp_path):
    target = tmp_path / "new" / "deeper" / "t.csv"
    status, out, err = call("stream", tiny["run"], tiny["talk"], "--csv", target)
    assert status == 0
    assert len(read_csv(target)) == 9


def test_stream_unreadable_file_exits_1(tiny, tmp_path):
    status, out, err = call("stream", tiny["run"], tmp_path / "nothing.wav")
    assert status == 1 and "nothing.wav: no such file" in err


# ==================================================================================== explain
def test_explain_prints_weights_that_sum_to_one(tiny, tmp_path):
    path = tiny["paths"][4]
    status, out, err = call("explain", tiny["run"], path, "--npz", tmp_path / "x.npz",
                            "--png", tmp_path / "x.png")
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith(f"{path}: ")
    table = [line.split() for line in lines[3:]]
    assert len(table) == 33                                          # 132 frames / 4
    weights = np.array([float(row[3]) for row in table])
    assert weights.sum() == pytest.approx(1.0, abs=33 * 5e-5)        # printed to 4 decimals
    np.testing.assert_allclose([float(row[1]) for row in table], np.arange(33) * 0.064)
    saved = np.load(tmp_path / "x.npz")
    assert saved["weights"].sum() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(saved["weights"], weights, atol=5e-5)
    assert saved["mel"].shape == (128, 132)
    if plots.available():
        assert (tmp_path / "x.png").stat().st_size > 0
    else:
        assert not (tmp_path / "x.png").exists()
        assert "matplotlib is not installed; no PNG written" in err


def test_explain_writes_into_missing_folders(tiny, tmp_path):
    path = tiny["paths"][1]
    npz, png = tmp_path / "a" / "b" / "weights", tmp_path / "c" / "d" / "w.png"
    status, out, err = call("explain", tiny["run"], path, "--npz", npz, "--png", png)
    assert status == 0
    saved = np.load(f"{npz}.npz")                                   # np.savez adds .npz
    assert f"wrote {npz}.npz" in err
    assert saved["weights"].sum() == pytest.approx(1.0, abs=1e-5)
    assert png.parent.is_dir()
    assert png.is_file() == plots.available()


def test_explain_output_that_cannot_be_written_exits_1(tiny, tmp_path):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    target = tmp_path / "blocker" / "x.npz"
    status, out, err = call("explain", tiny["run"], tiny["paths"][1], "--npz", target)
    assert status == 1
    assert out.startswith(f"{tiny['paths'][1]}: ")                   # the explanation came first
    assert f"error: cannot write {target}: " in err


def test_explain_unreadable_file_exits_1(tiny, tmp_path):
    (tmp_path / "x.wav").write_bytes(b"RIFF....")
    status, out, err = call("explain", tiny["run"], tmp_path / "x.wav")
    assert status == 1 and err.startswith(f"error: {tmp_path / 'x.wav'}")
