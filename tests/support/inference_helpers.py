"""A tiny trained run and a test recording, shared by test_inference.py and test_cli.py."""

import numpy as np

from minitorch_ser.data import baved, splits, synthetic
from minitorch_ser.data.features import FeatureConfig
from minitorch_ser.app.experiment import prepare, test_and_report
from minitorch_ser.models.parallel import ParallelCNNLSTMAttention
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.app.training import TrainConfig, fit

SR = 16000
FEATURES = FeatureConfig(duration=2.1, normalize_audio=True)      # 132 frames


def make_tiny_run(root):
    """Train a tiny ParallelCNNLSTMAttention (prepare, fit, test_and_report); return
    (run_dir, df, split)."""
    data = root / "data"
    synthetic.make_dataset(data, n_speakers=3, n_words=2, clips_per=1, seed=1,
                           duration=(0.8, 3.0))
    df = baved.read_metadata(data)
    y = df["emotion"].to_numpy()
    split = splits.random_split(y, fractions=(0.6, 0.2, 0.2), seed=0)
    manual_seed(0)
    paths = df["path"].tolist()
    train, val, test, standardizer = prepare(paths, y, split, FEATURES, cache_dir=None,
                                             progress=False)
    model = ParallelCNNLSTMAttention(n_classes=3, n_mels=train.X.shape[-2],
                                     n_frames=train.X.shape[-1], hidden=8, heads=2,
                                     channels=(4, 4, 8, 8))
    meta = {"class_names": list(baved.EMOTIONS), "feature_config": FEATURES.to_dict(),
            "standardizer": standardizer.state_dict()}
    result = fit(model, (train.X, train.y), (val.X, val.y),
                 TrainConfig(epochs=2, batch_size=8, lr=3e-3, progress=False), root / "run",
                 meta=meta, seed=0)
    test_and_report(model, test, list(baved.EMOTIONS), result, root / "run", paths)
    return root / "run", df, split


def recording(seconds_per_part=(1.2, 0.9, 1.5, 1.1, 1.3), seed=0, sr=SR):
    """A non-stationary recording: vowels of changing emotion and word, back to back."""
    rng = np.random.default_rng(seed)
    parts = [synthetic.synthesize_vowel(d, 150.0, synthetic.WORD_FORMANTS[i % 7],
                                        synthetic.BAVED_PROSODY[i % 3], sr, rng)
             for i, d in enumerate(seconds_per_part)]
    return np.concatenate(parts).astype(np.float32)
