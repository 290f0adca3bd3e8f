"""A small synthetic BAVED-layout dataset shared by the data tests (written once per session)."""

import pytest

from minitorch_ser.data import baved, synthetic


@pytest.fixture(scope="session")
def synth_df(tmp_path_factory):
    """24 clips: 4 speakers x 2 words x 3 levels, 0.5 to 3.5 s long (some padded, some trimmed)."""
    root = tmp_path_factory.mktemp("synth_baved")
    synthetic.make_dataset(root, n_speakers=4, n_words=2, clips_per=1, seed=0,
                           duration=(0.5, 3.5))
    return baved.read_metadata(root)
