"""CREMA-D metadata (names, demographics, bad input) and the second paper's 3-channel features."""

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from audio_backend import soundfile_or_skip

import dsp
from minitorch_ser.data import crema_d, features, synthetic

sf = soundfile_or_skip()


@pytest.fixture(scope="module")
def crema_root(tmp_path_factory):
    """36 synthetic clips: 3 actors x 2 sentences x 6 emotions, 1.5-3.5 s (padded and trimmed)."""
    root = tmp_path_factory.mktemp("crema") / "AudioWAV"
    synthetic.make_crema_d(root, n_actors=3, sentences=("DFA", "IEO"), seed=0,
                           duration=(1.5, 3.5))
    return root


@pytest.mark.parametrize("name, fields", [
    ("1001_DFA_ANG_XX.wav", (1001, "DFA", 0, "XX")),
    ("1091_WSI_SAD_HI.wav", (1091, "WSI", 5, "HI")),
    ("1045_IEO_fea_lo.WAV", (1045, "IEO", 2, "LO")),
    ("1076_MTI_NEU_MD.wav", (1076, "MTI", 4, "MD")),
])
def test_parse_good_names(name, fields):
    got = crema_d.parse_name(name)
    assert (got["actor"], got["sentence"], got["emotion"], got["intensity"]) == fields
    assert crema_d.EMOTIONS[got["emotion"]] == name.split("_")[2].upper()


@pytest.mark.parametrize("name, reason", [
    ("1040_ITH_SAD_X.wav", "does not follow CREMA-D's pattern"),     # the real upstream typo
    ("1001-DFA-ANG-XX.wav", "does not follow CREMA-D's pattern"),
    ("49-m-23-6-1-201.wav", "does not follow CREMA-D's pattern"),    # a BAVED name
    ("1001_XYZ_ANG_XX.wav", "sentence 'XYZ' is not one of IEO TIE"),
    ("1001_DFA_JOY_XX.wav", "emotion 'JOY' is not one of ANG DIS FEA HAP NEU SAD"),
    ("1001_DFA_ANG_ZZ.wav", "intensity 'ZZ' is not one of LO MD HI XX"),
    ("0999_DFA_ANG_XX.wav", "actor 0999 is outside 1001-1091"),
    ("1092_DFA_ANG_XX.wav", "actor 1092 is outside 1001-1091"),
])
def test_bad_names_are_named_with_the_reason(name, reason):
    with pytest.raises(ValueError, match=reason) as err:
        crema_d.parse_name(name)
    assert name in str(err.value)


def test_codes_agree_with_the_synthetic_generator():
    assert tuple(crema_d.SENTENCES) == synthetic.CREMA_D_SENTENCES
    assert crema_d.EMOTIONS == tuple(synthetic.CREMA_D_PROSODY) == tuple(sorted(crema_d.EMOTIONS))
    assert len(crema_d.SENTENCES) == 12


def test_read_metadata_of_the_audio_folder(crema_root):
    df = crema_d.read_metadata(crema_root)
    assert len(df) == 36 and list(df.index) == list(range(36))
    assert list(df.columns[:5]) == ["path", "actor", "sentence", "emotion", "intensity"]
    assert df["path"].map(os.path.basename).tolist() == sorted(
        n for n in os.listdir(crema_root) if n.endswith(".wav"))
    assert sorted(df["actor"].unique()) == [1001, 1002, 1003]
    assert np.bincount(df["emotion"]).tolist() == [6] * 6
    assert set(df["sentence"]) == {"DFA", "IEO"} and set(df["intensity"]) == {"XX"}
    # each row's fields are those of its own file name
    for _, row in df.iterrows():
        assert os.path.basename(row["path"]) == (f"{row['actor']}_{row['sentence']}_"
                                                 f"{crema_d.EMOTIONS[row['emotion']]}_XX.wav")
    # a whole clone's folder (AudioWAV inside it) reads the same clips
    clone = crema_d.read_metadata(crema_root.parent)
    assert clone["path"].tolist() == df["path"].tolist()


def test_demographics_joined_from_inside_or_beside_the_audio(crema_root, tmp_path):
    inside = crema_d.read_metadata(crema_root)
    assert inside.attrs["demographics"] == str(crema_root / "VideoDemographics.csv")
    table = pd.read_csv(crema_root / "VideoDemographics.csv")
    for _, row in inside.iterrows():
        actor = table[table["ActorID"] == row["actor"]].iloc[0]
        assert (row["age"], row["sex"], row["race"], row["ethnicity"]) == (
            actor["Age"], actor["Sex"], actor["Race"], actor["Ethnicity"])
    # CREMA-D's layout: AudioWAV/ and VideoDemographics.csv side by side, quoted like upstream
    audio = tmp_path / "CREMA-D" / "AudioWAV"
    audio.mkdir(parents=True)
    for p in inside["path"][:12]:
        shutil.copy(p, audio)
    (tmp_path / "CREMA-D" / "VideoDemographics.csv").write_text(
        '"ActorID","Age","Sex","Race","Ethnicity"\n'
        '1001,51,"Male","Caucasian","Not Hispanic"\n'
        '1002,21,"Female","Asian","Hispanic"\n')
    beside = crema_d.read_metadata(audio)
    assert beside.attrs["demographics"].endswith(os.path.join("CREMA-D", "VideoDemographics.csv"))
    assert beside.groupby("actor")["sex"].first().to_dict() == {1001: "Male"}
    assert beside["age"].eq(51).all()
    # no demographics file: no join; an actor missing from the table: NaN and a warning
    assert "age" not in crema_d.read_metadata(audio, demographics=None).columns
    (tmp_path / "two.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1002,30,Male,Asian,No\n")
    with pytest.warns(UserWarning, match=r"no row for actor\(s\) \[1001\]"):
        gap = crema_d.read_metadata(audio, demographics=tmp_path / "two.csv")
    assert gap["age"].isna().all()
    (tmp_path / "bad.csv").write_text("ActorID,Age,Gender\n1001,51,Male\n")
    with pytest.raises(ValueError, match=r"bad.csv: missing column\(s\) \['Sex', 'Race'"):
        crema_d.read_metadata(audio, demographics=tmp_path / "bad.csv")


def test_bad_names_raise_listing_all_or_are_skipped(crema_root, tmp_path):
    for p in sorted(crema_root.glob("*.wav"))[:4]:
        shutil.copy(p, tmp_path)
    shutil.copy(next(crema_root.glob("*.wav")), tmp_path / "1040_ITH_SAD_X.wav")
    shutil.copy(next(crema_root.glob("*.wav")), tmp_path / "1001_DFA_JOY_XX.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(ValueError, match=r"2 file name\(s\) are not CREMA-D's") as err:
        crema_d.read_metadata(tmp_path)
    assert "1040_ITH_SAD_X.wav" in str(err.value) and "1001_DFA_JOY_XX.wav" in str(err.value)
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\)"):
        df = crema_d.read_metadata(tmp_path, errors="skip")
    assert len(df) == 4


def test_missing_folder_and_lfs_pointers_say_how_to_get_the_audio(tmp_path):
    with pytest.raises(FileNotFoundError, match="git lfs") as err:
        crema_d.read_metadata(tmp_path / "nowhere")
    assert "https://github.com/CheyneyComputerScience/CREMA-D" in str(err.value)
    with pytest.raises(FileNotFoundError, match="no CREMA-D clips found"):
        crema_d.read_metadata(tmp_path)
    (tmp_path / "1001_DFA_ANG_XX.wav").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:c6f9\nsize 72862\n")
    pointer = r"(?s)1 of 1 .wav files .* are git-lfs pointers.*git lfs pull"
    with pytest.raises(ValueError, match=pointer):
        crema_d.read_metadata(tmp_path)


def test_paper_features_are_3_channels_of_64_mels_by_300_frames(crema_root, tmp_path):
    cfg = crema_d.FEATURES
    assert (cfg.n_fft, cfg.win_length, cfg.hop_length, cfg.n_mels, cfg.window) == (
        400, 400, 160, 64, "hamming")
    assert cfg.shape == (3, 64, 300) and cfg.normalize_audio and cfg.sr == 16000
    df = crema_d.read_metadata(crema_root)
    paths = df["path"].tolist()[:8]
    out = features.extract(paths, cfg, progress=False, cache_dir=tmp_path)
    assert out.X.shape == (8, 3, 64, 300) and out.X.dtype == np.float32
    # against the recipe written out: load, z-normalize, pad/trim 3 s, log-mel + deltas of the
    # 301 centred frames, drop the last frame
    for i in (0, 5):
        y, sr = sf.read(paths[i], dtype="float32")
        y = dsp.fix_length(dsp.standardize(y), 48000)
        ref = dsp.logmel_deltas(y, sr=16000, n_fft=400, hop_length=160, win_length=400,
                                window="hamming", n_mels=64)               # (3, 64, 301)
        assert ref.shape == (3, 64, 301)
        np.testing.assert_allclose(out.X[i], ref[..., :300], atol=2e-3)
    assert out.X[:, 0].max() == pytest.approx(0.0, abs=1e-6)               # ref = max: peak 0 dB
    # cached like the BAVED features: a second call reads the file written by the first
    assert sorted(os.listdir(tmp_path)) == sorted(  # the store and its sidecar
        [f"{features.cache_path(paths, cfg, '.').split('/')[-1]}",
         f"{features.cache_path(paths, cfg, '.').split('/')[-1][:-4]}.json"])
    again = features.extract(paths, cfg, progress=False, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.X, out.X)
    # other durations keep 10 ms frames
    assert crema_d.feature_config(duration=2.0).shape == (3, 64, 200)

