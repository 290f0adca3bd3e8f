"""Real data: a few BAVED clips through the first paper's front end (runs only when BAVED_DIR is set)."""
import numpy as np

import dsp

PAPER = dict(sr=16000, n_fft=1024, hop_length=256, win_length=512, window="hamming", n_mels=128, fmax=8000)


def test_baved_clips_give_finite_log_mels(baved_dir):
    paths = sorted(baved_dir.rglob("*.wav"))
    assert len(paths) > 1000, f"expected the ~1,935 BAVED clips under {baved_dir}, found {len(paths)}"
    # A spread of speakers and words: every 400th file.
    chosen = paths[::400]
    clips, lengths = [], []
    for path in chosen:
        y, sr = dsp.load(path, sr=16000)
        assert sr == 16000 and y.dtype == np.float32 and y.ndim == 1
        assert 0.2 * sr < len(y) < 10 * sr
        assert np.abs(y).max() <= 1.0 and y.std() > 1e-4  # speech, not silence
        clips.append(dsp.fix_length(dsp.standardize(y), 3 * sr))
        lengths.append(min(len(y), 3 * sr))
    Y = np.stack(clips)  # (n, 48000)

    S_db = dsp.power_to_db(dsp.melspectrogram(y=Y, **PAPER), ref=np.max)
    assert S_db.shape == (len(chosen), 128, 188) and S_db.dtype == np.float32
    assert np.all(np.isfinite(S_db))
    np.testing.assert_allclose(S_db.max(axis=(1, 2)), 0.0, atol=1e-4)  # each clip's peak at 0 dB
    assert S_db.min() >= -80.0 - 1e-3
    for i, n in enumerate(lengths):
        # Over the frames holding speech (not the zero padding) most cells are above the floor.
        assert np.mean(S_db[i, :, : n // 256] > -79.0) > 0.5, chosen[i]

    features = dsp.logmel_deltas(y=Y, **PAPER)
    assert features.shape == (len(chosen), 3, 128, 188)
    assert np.all(np.isfinite(features))
    np.testing.assert_allclose(features[:, 0], S_db, atol=1e-4)
