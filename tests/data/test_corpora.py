"""RAVDESS, EMO-DB, TESS and SAVEE metadata from their real file names, and the corpus registry.

Every tree is written with the corpora's real names as tiny silent wavs (metadata reading never
decodes them); the take grouping of RAVDESS, which needs distinct audio, is in
test_corpus_takes.py.
"""

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from audio_backend import soundfile_or_skip

from minitorch_ser.data import baved, corpora, emodb, ravdess, savee, tess

sf = soundfile_or_skip()

NEW = {"ravdess": ravdess, "emodb": emodb, "tess": tess, "savee": savee}

# relative path -> the fields read_metadata must give (label, speaker, gender)
GOOD = {
    "ravdess": {
        "Actor_01/03-01-05-01-01-01-01.wav": ("angry", 1, "m"),
        "Actor_01/03-01-01-01-02-02-01.wav": ("neutral", 1, "m"),
        "Actor_02/03-01-02-02-01-01-02.wav": ("calm", 2, "f"),
        "Actor_02/03-02-04-01-01-01-02.wav": ("sad", 2, "f"),
        "Actor_13/03-01-08-02-02-02-13.wav": ("surprised", 13, "m"),
        "Actor_24/03-01-03-01-01-01-24.wav": ("happy", 24, "f"),
        "Actor_24/03-01-06-02-01-02-24.wav": ("fearful", 24, "f"),
        "Actor_24/03-01-07-01-02-01-24.wav": ("disgust", 24, "f"),
    },
    "emodb": {
        "wav/03a01Fa.wav": ("happiness", 3, "m"),
        "wav/08b10Wb.wav": ("anger", 8, "f"),
        "wav/09a02Nc.wav": ("neutral", 9, "f"),
        "wav/11b03Lb.wav": ("boredom", 11, "m"),
        "wav/13a04Ea.wav": ("disgust", 13, "f"),
        "wav/15a07Aa.wav": ("fear", 15, "m"),
        "wav/16a05Tc.wav": ("sadness", 16, "f"),
    },
    "tess": {
        "OAF_angry/OAF_back_angry.wav": ("angry", "OAF", "f"),
        "OAF_Fear/OAF_bath_fear.wav": ("fear", "OAF", "f"),
        "OAF_Pleasant_surprise/OAF_bath_ps.wav": ("ps", "OAF", "f"),
        "OAF_Sad/OAF_youth_sad.wav": ("sad", "OAF", "f"),
        "YAF_disgust/YAF_bean_disgust.wav": ("disgust", "YAF", "f"),
        "YAF_pleasant_surprised/YAF_bean_ps.wav": ("ps", "YAF", "f"),
        "YAF_neutral/YAF_chair_neutral.wav": ("neutral", "YAF", "f"),
        "TESS Toronto emotional speech set data/YAF_happy/YAF_dog_happy.wav":
            ("happy", "YAF", "f"),
    },
    "savee": {
        "AudioData/DC/a01.wav": ("anger", "DC", "m"),
        "AudioData/DC/sa01.wav": ("sadness", "DC", "m"),
        "AudioData/JE/su15.wav": ("surprise", "JE", "m"),
        "AudioData/KL/n30.wav": ("neutral", "KL", "m"),
        "ALL/DC_sa02.wav": ("sadness", "DC", "m"),
        "ALL/JK_h03.wav": ("happiness", "JK", "m"),
        "ALL/KL_f15.wav": ("fear", "KL", "m"),
        "ALL/JE_d01.wav": ("disgust", "JE", "m"),
    },
}

# relative path -> a piece of the reason given for rejecting it
BAD = {
    "ravdess": {
        "Actor_01/03-01-01-02-01-01-01.wav": "neutral (01) has no strong intensity",
        "Actor_02/03-02-07-01-01-01-02.wav": "song (02) has no disgust",
        "Actor_03/02-01-05-01-01-01-03.wav": "video-only and has no audio",
        "Actor_04/03-01-05-01-01-01-05.wav": "in folder Actor_04 but its actor field is 05",
        "Actor_05/03-01-09-01-01-01-05.wav": "emotion 09 is not one of 01 .. 08",
        "Actor_05/03-01-05-01-01-01.wav": "seven two-digit fields",
        "Actor_25/03-01-05-01-01-01-25.wav": "actor 25 is outside 01 .. 24",
    },
    "emodb": {
        "wav/02a01Fa.wav": "speaker 02 is not one of 03 08",
        "wav/03a03Fa.wav": "text a03 is not one of",
        "wav/03a01Xa.wav": "emotion X is not one of W L E A F T N",
        "wav/3a01Fa.wav": "is not two speaker digits",
    },
    "tess": {
        "OAF_angry/OAF_base_sad.wav": "name says 'sad' but its folder 'OAF_angry' says 'angry'",
        "YAF_sad/OAF_time_sad.wav": "name says speaker OAF but its folder 'YAF_sad' says YAF",
        "OAF_angry/OAF_back_joy.wav": "emotion 'joy' is not one of",
        "OAF_calm/OAF_back_angry.wav": "folder 'OAF_calm' names no TESS emotion",
        "OAF_angry/back_angry.wav": "is not <OAF|YAF>_<word>_<emotion>.wav",
    },
    "savee": {
        "AudioData/DC/JE_a01.wav": "in speaker DC's folder but names JE",
        "ALL/a01.wav": "no speaker prefix and its folder 'ALL' is not one of",
        "AudioData/KL/n31.wav": "sentence 31 is outside 01 .. 30 for neutral",
        "AudioData/KL/a16.wav": "sentence 16 is outside 01 .. 15 for anger",
        "ALL/XY_a01.wav": "is not [<speaker>_]<emotion code><NN>.wav",
        "ALL/DC_x01.wav": "is not [<speaker>_]<emotion code><NN>.wav",
    },
}

URLS = {"ravdess": "zenodo.org/record/1188976", "emodb": "emodb.bilderbar.info",
        "tess": "doi.org/10.5683/SP2/E8H2MF", "savee": "kahlan.eps.surrey.ac.uk/savee"}


def _write(path):
    """A valid 10 ms silent wav (the folders are created)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, np.zeros(160, dtype=np.float32), 16000, subtype="PCM_16")


def _tree(root, relpaths):
    for rel in relpaths:
        _write(os.path.join(root, *rel.split("/")))
    return root


# ================================================================ names -> fields, per corpus
@pytest.mark.parametrize("name", list(NEW))
def test_read_metadata_parses_label_speaker_gender(tmp_path, name):
    root = _tree(tmp_path / name, GOOD[name])
    df = NEW[name].read_metadata(root)
    assert list(df.columns) == list(NEW[name].COLUMNS)
    assert df.index.tolist() == list(range(len(GOOD[name])))
    rel = [os.path.relpath(p, root).replace(os.sep, "/") for p in df["path"]]
    assert rel == sorted(GOOD[name], key=lambda r: r.split("/"))     # deterministic order
    got = {r: (row.label, row.speaker, row.gender) for r, row in zip(rel, df.itertuples())}
    assert got == GOOD[name]
    assert set(df["label"]) <= set(NEW[name].EMOTIONS)


@pytest.mark.parametrize("name", list(NEW))
def test_bad_names_raise_listing_them_or_are_skipped_with_one_warning(tmp_path, name):
    root = _tree(tmp_path / name, list(GOOD[name]) + list(BAD[name]))
    with pytest.raises(ValueError) as err:
        NEW[name].read_metadata(root)
    message = str(err.value)
    assert f"{len(BAD[name])} file name(s)" in message and "errors='skip'" in message
    for rel, reason in BAD[name].items():
        assert os.path.join(root, *rel.split("/")) in message
        assert reason in message, (rel, message)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        df = NEW[name].read_metadata(root, errors="skip")
    assert len(record) == 1 and f"skipped {len(BAD[name])} file(s)" in str(record[0].message)
    assert len(df) == len(GOOD[name])
    with pytest.raises(ValueError, match="errors='ignore' must be 'raise' or 'skip'"):
        NEW[name].read_metadata(root, errors="ignore")


def test_many_bad_names_show_ten_and_the_count(tmp_path):
    bad = [f"wav/99a01F{chr(97 + i)}.wav" for i in range(13)]
    root = _tree(tmp_path / "emodb", ["wav/03a01Fa.wav"] + bad)
    with pytest.raises(ValueError, match="13 file name") as err:
        emodb.read_metadata(root)
    assert "... and 3 more" in str(err.value)
    assert sum(os.path.join(root, *b.split("/")) in str(err.value) for b in bad) == 10


@pytest.mark.parametrize("name", list(NEW))
def test_missing_or_empty_folder_gives_the_download_instructions(tmp_path, name):
    env = corpora.REGISTRY[name].env_var
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        NEW[name].read_metadata(tmp_path / "nowhere")
    assert URLS[name] in str(err.value) and env in str(err.value)
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "README.txt").write_text("not audio")
    with pytest.raises(FileNotFoundError, match=f"no {NEW[name].CORPUS} clips found") as err:
        NEW[name].read_metadata(tmp_path / "empty")
    assert URLS[name] in str(err.value)


def test_hidden_files_and_macos_folders_are_passed_over(tmp_path):
    root = _tree(tmp_path / "ravdess", ["Actor_01/03-01-05-01-01-01-01.wav"])
    _write(root / "__MACOSX" / "Actor_01" / "._03-01-05-01-01-01-01.wav")
    _write(root / "Actor_01" / "._03-01-05-01-01-01-01.wav")
    _write(root / ".cache" / "x.wav")
    (root / "Actor_01" / "notes.txt").write_text("ignored")
    assert len(ravdess.read_metadata(root)) == 1


# ==================================================================================== RAVDESS
def test_ravdess_every_field_of_a_name():
    assert ravdess.parse_name("03-01-06-01-02-01-12.wav", "Actor_12") == {
        "label": "fearful", "speaker": 12, "gender": "f", "modality": "audio-only",
        "vocal_channel": "speech", "intensity": "normal", "statement": 2, "repetition": 1,
        "take": "01-06-01-02-01-12"}
    song = ravdess.parse_name("03-02-05-02-01-02-07.WAV")
    assert (song["vocal_channel"], song["intensity"], song["repetition"]) == ("song", "strong", 2)
    assert ravdess.STATEMENTS[song["statement"]] == "Kids are talking by the door"


def test_ravdess_gender_by_actor_parity():
    for actor in range(1, 25):
        fields = ravdess.parse_name(f"03-01-03-01-01-01-{actor:02d}.wav", f"Actor_{actor:02d}")
        assert fields["gender"] == ("m" if actor % 2 else "f"), actor
        assert fields["speaker"] == actor


def test_ravdess_take_ignores_modality_only():
    av = ravdess.parse_name("01-01-05-02-01-02-07.wav")
    audio = ravdess.parse_name("03-01-05-02-01-02-07.wav")
    assert (av["modality"], audio["modality"]) == ("full-AV", "audio-only")
    assert av["take"] == audio["take"]
    others = ["03-02-05-02-01-02-07.wav", "03-01-04-02-01-02-07.wav", "03-01-05-01-01-02-07.wav",
              "03-01-05-02-02-02-07.wav", "03-01-05-02-01-01-07.wav", "03-01-05-02-01-02-09.wav"]
    takes = {ravdess.parse_name(n)["take"] for n in others}
    assert len(takes) == len(others) and audio["take"] not in takes


# ===================================================================================== EMO-DB
def test_emodb_speakers_sex_and_age_from_the_documentation(tmp_path):
    documented = {3: ("m", 31), 8: ("f", 34), 9: ("f", 21), 10: ("m", 32), 11: ("m", 26),
                  12: ("m", 30), 13: ("f", 32), 14: ("f", 35), 15: ("m", 25), 16: ("f", 31)}
    assert emodb.SPEAKERS == documented
    root = _tree(tmp_path / "emodb", [f"wav/{s:02d}a01Na.wav" for s in documented]
                 + ["wav/03b01Wa.wav"])
    df = emodb.read_metadata(root)
    table = corpora.eda("emodb", df)["speaker"]
    for s, (sex, age) in documented.items():
        assert (table.loc[s, "gender"], table.loc[s, "age"]) == (sex, age)
    assert table.loc[3, "clips"] == 2 and table.loc[3, "anger"] == 1
    gender = corpora.eda("emodb", df)["gender"]
    assert gender.loc["m", "speakers"] == 5 and gender.loc["f", "speakers"] == 5


def test_emodb_letters_read_in_any_case():
    fields = emodb.parse_name("03A01fB.WAV")
    assert (fields["label"], fields["text"], fields["version"]) == ("happiness", "a01", "b")


# ======================================================================================= TESS
@pytest.mark.parametrize("folder", ["OAF_Pleasant_surprise", "oaf_pleasant_surprised",
                                    "OAF_PS", "OAF_ps"])
def test_tess_pleasant_surprise_folders_in_any_case(folder):
    assert tess.parse_name("OAF_bite_ps.wav", folder)["label"] == "ps"


def test_tess_label_comes_from_the_name_and_a_disagreeing_folder_is_an_error():
    assert tess.parse_name("YAF_bath_fear.wav", "YAF_fear") == {
        "label": "fear", "speaker": "YAF", "gender": "f", "age": 26, "word": "bath"}
    assert tess.parse_name("oaf_Back_ANGRY.wav", "some folder")["label"] == "angry"
    with pytest.raises(ValueError, match="name says 'fear' but its folder 'YAF_sad' says 'sad'"):
        tess.parse_name("YAF_bath_fear.wav", "YAF_sad")
    assert tess.SPEAKERS == {"OAF": ("f", 64), "YAF": ("f", 26)}


# ====================================================================================== SAVEE
@pytest.mark.parametrize("name, folder, label, speaker, sentence", [
    ("sa01.wav", "DC", "sadness", "DC", 1),              # two letters before one
    ("su07.wav", "je", "surprise", "JE", 7),
    ("a01.wav", "JK", "anger", "JK", 1),
    ("n30.wav", "KL", "neutral", "KL", 30),
    ("DC_sa01.wav", "ALL", "sadness", "DC", 1),
    ("KL_su15.wav", None, "surprise", "KL", 15),
    ("JE_a12.wav", "JE", "anger", "JE", 12),
    ("jk_H03.WAV", "AudioData", "happiness", "JK", 3),
])
def test_savee_both_layouts_and_two_letter_codes(name, folder, label, speaker, sentence):
    assert savee.parse_name(name, folder) == {"label": label, "speaker": speaker, "gender": "m",
                                              "sentence": sentence}


# =================================================================================== the EDA
@pytest.mark.parametrize("name", list(NEW))
def test_eda_counts_every_class_in_the_fixed_order(tmp_path, name):
    df = NEW[name].read_metadata(_tree(tmp_path / name, GOOD[name]))
    report = corpora.eda(name, df)
    table = report["label"]
    assert table.index.tolist() == list(NEW[name].EMOTIONS)
    expected = pd.Series([v[0] for v in GOOD[name].values()]).value_counts()
    assert table["clips"].to_dict() == {e: int(expected.get(e, 0)) for e in NEW[name].EMOTIONS}
    words = {"word"} if name == "tess" else set()          # TESS: clips per word and emotion
    assert set(report.tables) == {"label", "gender", "label_by_gender", "speaker"} | words
    assert report["speaker"]["clips"].sum() == len(df)


def test_eda_writes_its_tables(tmp_path):
    df = savee.read_metadata(_tree(tmp_path / "savee", GOOD["savee"]))
    corpora.eda("savee", df, out_dir=tmp_path / "eda")
    written = pd.read_csv(tmp_path / "eda" / "eda_label.csv", index_col=0)
    assert written["clips"].to_dict() == corpora.eda("savee", df)["label"]["clips"].to_dict()
    assert (tmp_path / "eda" / "eda_speaker.csv").is_file()


# ================================================================================== registry
def test_registry_lists_all_six_with_their_fields():
    assert corpora.names() == ["baved", "crema-d", "ravdess", "emodb", "tess", "savee"]
    envs = {"baved": "BAVED_DIR", "crema-d": "CREMA_D_DIR", "ravdess": "RAVDESS_DIR",
            "emodb": "EMODB_DIR", "tess": "TESS_DIR", "savee": "SAVEE_DIR"}
    for name, entry in corpora.REGISTRY.items():
        assert entry.name == name and entry.env_var == envs[name]
        assert callable(entry.loader.read_metadata)
        assert len(entry.classes) >= 3 and len(set(entry.classes)) == len(entry.classes)
        assert "http" in entry.how_to_get
        assert set(entry.four_class) == set(entry.classes), name
        assert set(entry.four_class.values()) <= set(corpora.FOUR_CLASSES) | {None}
    assert corpora.REGISTRY["ravdess"].classes == ravdess.EMOTIONS
    assert corpora.corpus("CREMA_D") is corpora.REGISTRY["crema-d"]
    assert corpora.corpus("EMO-DB") is corpora.REGISTRY["emodb"]


def test_unknown_corpus_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown corpus 'iemocap'; known corpora: baved, "
                                         "crema-d, ravdess, emodb, tess, savee"):
        corpora.load("iemocap", "/nowhere")


@pytest.mark.parametrize("name", list(NEW))
def test_load_each_new_corpus(tmp_path, name):
    root = _tree(tmp_path / name, GOOD[name])
    df, classes = corpora.load(name, root)
    assert classes == list(NEW[name].EMOTIONS)
    assert df["label"].tolist() == NEW[name].read_metadata(root)["label"].tolist()
    assert set(df["label"]) <= set(classes)
    assert {"path", "label", "speaker", "gender"} <= set(df.columns)


def test_load_reads_the_environment_variable(tmp_path, monkeypatch):
    root = _tree(tmp_path / "tess", GOOD["tess"])
    monkeypatch.setenv("TESS_DIR", str(root))
    df, _ = corpora.load("tess")
    assert len(df) == len(GOOD["tess"])
    monkeypatch.delenv("TESS_DIR")
    with pytest.raises(FileNotFoundError, match="pass its path or set TESS_DIR.*10.5683"):
        corpora.load("tess")


def test_load_wraps_baved_and_crema_d_without_changing_them(tmp_path):
    baved_root = _tree(tmp_path / "baved", ["0/49-m-23-0-1-201.wav", "1/50-f-30-1-2-7.wav",
                                            "1/50-f-30-1-0-8.wav"])
    df, classes = corpora.load("baved", baved_root)
    assert classes == ["low", "neutral", "high"]
    assert df["label"].tolist() == ["neutral", "low", "high"]       # folder, then name order
    assert df["emotion"].tolist() == [1, 0, 2] and df["gender"].tolist() == ["m", "f", "f"]
    crema = _tree(tmp_path / "crema" / "AudioWAV", ["1001_DFA_ANG_XX.wav", "1002_IEO_HAP_HI.wav"])
    (tmp_path / "crema" / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n"
        "1002,21,Female,Caucasian,Not Hispanic\n")
    df, classes = corpora.load("crema-d", crema)
    assert classes == ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    assert df["label"].tolist() == ["ANG", "HAP"] and df["speaker"].tolist() == [1001, 1002]
    assert df["gender"].tolist() == ["m", "f"]
    table = corpora.eda("crema-d", df)["label"]
    assert table.index.tolist() == classes and table["clips"].tolist() == [1, 0, 0, 1, 0, 0]


@pytest.mark.parametrize("name", list(NEW))
def test_registry_eda_of_a_loaded_table_equals_the_shared_counts(tmp_path, name):
    df, _ = corpora.load(name, _tree(tmp_path / name, GOOD[name]))
    ours = corpora.eda(name, df)
    theirs = baved.eda(df, label_col="label", label_names=NEW[name].EMOTIONS,
                       gender_col="gender", speaker_col="speaker")
    assert set(ours.tables) == set(theirs.tables)
    for table in ours.tables:
        pd.testing.assert_frame_equal(ours[table], theirs[table])


# ================================================================================ four classes
@pytest.mark.parametrize("name, dropped", [
    ("ravdess", {"calm", "fearful", "disgust", "surprised"}),
    ("emodb", {"boredom", "disgust", "fear"}),
    ("tess", {"disgust", "fear", "ps"}),
    ("savee", {"disgust", "fear", "surprise"}),
    ("crema-d", {"DIS", "FEA"}),
    ("baved", {"low", "high"}),
])
def test_four_class_map_drops_the_right_classes(name, dropped):
    classes = corpora.REGISTRY[name].classes
    df = pd.DataFrame({"path": [f"{c}.wav" for c in classes], "label": list(classes)})
    four, names = corpora.four_class(df, name)
    assert names == ["anger", "happiness", "sadness", "neutral"]
    assert set(four["corpus_label"]) == set(classes) - dropped
    assert set(four["label"]) <= set(names) and four.index.tolist() == list(range(len(four)))
    if name != "baved":                                # BAVED has levels, not categories
        assert sorted(four["label"]) == sorted(names)
    assert corpora.FOUR_CLASS["ravdess"]["calm"] is None    # calm is not neutral


def test_four_class_refuses_labels_of_another_corpus():
    df = pd.DataFrame({"path": ["a.wav", "b.wav"], "label": ["angry", "anger"]})
    with pytest.raises(ValueError, match=r"label\(s\) \['anger'\] are not classes of 'tess'"):
        corpora.four_class(df, "tess")
