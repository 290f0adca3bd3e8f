"""Label maps for cross-corpus work: the built-in four classes and a user's CSV."""

import pandas as pd
import pytest

from minitorch_ser.data import crosscorpus


def table(labels):
    return pd.DataFrame({"path": [f"{i}.wav" for i in range(len(labels))], "label": labels,
                         "speaker": ["s"] * len(labels)})


def test_four_class_map_keeps_the_shared_emotions():
    kept, classes = crosscorpus.shared_labels(
        table(["angry", "calm", "happy", "sad", "neutral", "fearful"]), "ravdess")
    assert classes == ["anger", "happiness", "sadness", "neutral"]
    assert kept["label"].tolist() == ["anger", "happiness", "sadness", "neutral"]
    assert kept["corpus_label"].tolist() == ["angry", "happy", "sad", "neutral"]


def test_a_csv_map_names_its_classes_in_order(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("corpus,label,class\nEMO-DB,anger,negative\nemodb,sadness,negative\n"
                    "emodb,happiness,positive\nemodb,boredom,\nmanifest,mad,negative\n"
                    "manifest,glad,positive\n")
    mapping, classes = crosscorpus.read_label_map(path)
    assert classes == ["negative", "positive"]
    assert mapping["emodb"] == {"anger": "negative", "sadness": "negative",
                                "happiness": "positive", "boredom": None}
    kept, classes = crosscorpus.shared_labels(table(["anger", "boredom", "happiness", "fear"]),
                                              "emodb", path)
    assert kept["label"].tolist() == ["negative", "positive"] and len(kept) == 2
    kept, _ = crosscorpus.shared_labels(table(["mad", "glad"]), "manifest", path)
    assert kept["label"].tolist() == ["negative", "positive"]


@pytest.mark.parametrize("text, message", [
    ("corpus,label\nemodb,anger\n", "missing column"),
    ("corpus,label,class\natlantis,anger,x\n", "line 2: unknown corpus 'atlantis'"),
    ("corpus,label,class\nemodb,anger,x\nemodb,anger,y\n", "line 3: emodb label 'anger' is "
                                                          "listed twice"),
])
def test_bad_label_maps_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        crosscorpus.read_label_map(path)


def test_maps_that_leave_nothing_to_classify_are_refused(tmp_path):
    with pytest.raises(ValueError, match="nothing to classify"):
        crosscorpus.shared_labels(table(["low", "neutral", "high"]), "baved")
    with pytest.raises(ValueError, match="for a manifest pass --label-map"):
        crosscorpus.shared_labels(table(["a", "b"]), "manifest")
    path = tmp_path / "map.csv"
    path.write_text("corpus,label,class\nsavee,anger,neg\nsavee,happiness,pos\n")
    with pytest.raises(ValueError, match="has no row for corpus 'tess'"):
        crosscorpus.shared_labels(table(["angry"]), "tess", path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        crosscorpus.shared_labels(table(["angry"]), "tess", tmp_path / "absent.csv")
