"""The measures of the speech emotion recognition field: UA and WA, percentile bootstrap
intervals over the test clips, and the summary of cross-validation folds."""

import math

import numpy as np
import pytest

from minitorch_ser.app import metrics

# The 3-class example of test_metrics.py, counted by hand:
#              pred 0  pred 1  pred 2
#   true 0       3       1       0        recall 3/4
#   true 1       1       2       1        recall 2/4
#   true 2       0       0       2        recall 2/2
Y_TRUE = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
Y_PRED = [0, 0, 0, 1, 0, 1, 1, 2, 2, 2]


# ---------------------------------------------------------------------------------- UA and WA

def test_ua_and_wa_by_hand():
    r = metrics.classification_metrics(Y_TRUE, Y_PRED)
    assert r["ua"] == pytest.approx((3 / 4 + 2 / 4 + 2 / 2) / 3)        # mean recall, 0.75
    assert r["wa"] == pytest.approx((3 + 2 + 2) / 10)                   # sum TP / N, 0.7
    assert r["ua"] == r["macro_recall"] and r["wa"] == r["accuracy"]    # the same figures


def test_ua_counts_only_the_classes_present_and_wa_weights_by_clips():
    # ang: 2 of 3 right, hap: 1 of 2 right, sad: predicted once, never true (K' = 2)
    r = metrics.classification_metrics([0, 0, 0, 1, 1], [0, 0, 1, 1, 2],
                                       target_names=["ang", "hap", "sad"])
    assert r["ua"] == pytest.approx((2 / 3 + 1 / 2) / 2)                # 7/12, not 7/18
    assert r["wa"] == pytest.approx(3 / 5)
    # imbalance: 9 clips of class 0 all right, 1 clip of class 1 wrong
    r = metrics.classification_metrics([0] * 9 + [1], [0] * 10)
    assert r["wa"] == pytest.approx(0.9) and r["ua"] == pytest.approx(0.5)


def test_metrics_from_confusion_is_classification_metrics_of_the_labels():
    names = ["low", "neutral", "high"]
    from_labels = metrics.classification_metrics(Y_TRUE, Y_PRED, target_names=names)
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED)
    assert metrics.metrics_from_confusion(cm, names) == from_labels
    assert metrics.metrics_from_confusion(cm.tolist())["class_names"] == ["0", "1", "2"]
    with pytest.raises(ValueError, match=r"cm must be a square \(K, K\)"):
        metrics.metrics_from_confusion(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="cm holds a negative count"):
        metrics.metrics_from_confusion([[1, -1], [0, 1]])
    with pytest.raises(ValueError, match="cm must hold integer counts"):
        metrics.metrics_from_confusion([[1.5, 0], [0, 1]])
    with pytest.raises(ValueError, match="2 class names for 3 classes"):
        metrics.metrics_from_confusion(cm, ["a", "b"])


# ------------------------------------------------------------------------------- bootstrap_ci

def _percentile_by_hand(values, q):
    """Linear interpolation between the order statistics at rank q (B - 1), q in [0, 1]."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    i = math.floor(h)
    if i + 1 == len(xs):
        return xs[i]
    return xs[i] + (h - i) * (xs[i + 1] - xs[i])


def _bootstrap_loop(y_true, y_pred, n_classes, n_boot, level, seed):
    """The oracle: one classification_metrics call per resample, in a Python loop."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    idx = np.random.default_rng(seed).integers(0, t.size, size=(n_boot, t.size))
    figures = {"ua": [], "wa": [], "macro_f1": []}
    for b in range(n_boot):
        r = metrics.classification_metrics(t[idx[b]], p[idx[b]], n_classes=n_classes)
        for key in figures:
            figures[key].append(r[key])
    return figures


# a small case where resamples often lose class 2 (2 clips of 11) and the classes never
# predicted have 0 precision: the macro figures must skip what each resample lacks
SMALL_TRUE = [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]
SMALL_PRED = [0, 0, 1, 3, 1, 1, 0, 1, 2, 2, 0]


@pytest.mark.parametrize("n_classes, n_boot, level, seed",
                         [(4, 300, 0.95, 0), (5, 101, 0.9, 7), (None, 40, 0.5, 123), (4, 1, 0.95, 3)])
def test_bootstrap_matches_a_loop_over_resamples(n_classes, n_boot, level, seed):
    ci = metrics.bootstrap_ci(SMALL_TRUE, SMALL_PRED, n_classes=n_classes, n_boot=n_boot,
                              level=level, seed=seed)
    figures = _bootstrap_loop(SMALL_TRUE, SMALL_PRED, n_classes, n_boot, level, seed)
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    for key, values in figures.items():
        expected = tuple(float(v) for v in np.percentile(values, q))
        assert ci[key] == expected, (key, ci[key], expected)          # identical, not close
        by_hand = (_percentile_by_hand(values, (1 - level) / 2),
                   _percentile_by_hand(values, (1 + level) / 2))
        assert ci[key] == pytest.approx(by_hand, rel=1e-12, abs=1e-15), key
    assert ci["n_boot"] == n_boot and ci["level"] == level
    if n_boot == 1:                                                    # one resample: lo = hi
        assert all(ci[key][0] == ci[key][1] for key in figures)


def _noisy_classifier(n, k, hit_rate, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, size=n)
    wrong = rng.random(n) > hit_rate
    y_pred = np.where(wrong, (y_true + rng.integers(1, k, size=n)) % k, y_true)
    return y_true, y_pred


def test_the_point_estimate_lies_inside_the_interval():
    y_true, y_pred = _noisy_classifier(300, 4, hit_rate=0.6, seed=1)
    point = metrics.classification_metrics(y_true, y_pred, n_classes=4)
    ci = metrics.bootstrap_ci(y_true, y_pred, n_classes=4, n_boot=500, seed=2)
    for key in ("ua", "wa", "macro_f1"):
        lo, hi = ci[key]
        assert lo < point[key] < hi, (key, lo, point[key], hi)
        assert 0 <= lo < hi <= 1, key


def test_a_perfect_classifier_has_the_interval_1_1():
    y = [0, 1, 2, 3, 3, 2, 0, 0, 1]
    ci = metrics.bootstrap_ci(y, y, n_boot=200)
    assert ci["ua"] == ci["wa"] == ci["macro_f1"] == (1.0, 1.0)


def test_the_interval_narrows_when_the_test_set_grows():
    # the same confusion pattern, 50 clips and 16 copies of them (800): the widths should
    # shrink about sqrt(16) = 4 times, and surely by more than 2
    small_true, small_pred = _noisy_classifier(50, 4, hit_rate=0.7, seed=5)
    big_true, big_pred = np.tile(small_true, 16), np.tile(small_pred, 16)
    assert (metrics.confusion_matrix(big_true, big_pred, 4)
            == 16 * metrics.confusion_matrix(small_true, small_pred, 4)).all()
    small = metrics.bootstrap_ci(small_true, small_pred, n_classes=4, n_boot=1000)
    big = metrics.bootstrap_ci(big_true, big_pred, n_classes=4, n_boot=1000)
    for key in ("ua", "wa", "macro_f1"):
        w_small, w_big = np.diff(small[key])[0], np.diff(big[key])[0]
        assert 0 < w_big < w_small / 2, (key, w_small, w_big)


def test_the_same_seed_gives_the_same_interval():
    y_true, y_pred = _noisy_classifier(60, 3, hit_rate=0.6, seed=9)
    a = metrics.bootstrap_ci(y_true, y_pred, n_boot=300, seed=11)
    assert metrics.bootstrap_ci(y_true, y_pred, n_boot=300, seed=11) == a
    assert metrics.bootstrap_ci(y_true, y_pred, n_boot=300, seed=12) != a


@pytest.mark.parametrize("kwargs, message", [
    ({"n_boot": 0}, r"n_boot=0 must be an int >= 1"),
    ({"n_boot": 2.5}, r"n_boot=2.5 must be an int >= 1"),
    ({"n_boot": True}, r"n_boot=True must be an int >= 1"),
    ({"level": 0}, r"level=0 must be a number with 0 < level < 1"),
    ({"level": 1.0}, r"level=1.0 must be a number with 0 < level < 1"),
    ({"level": 95}, r"level=95 must be"),
    ({"level": float("nan")}, r"level=nan must be"),
    ({"level": "0.95"}, r"level='0.95' must be"),
])
def test_bootstrap_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        metrics.bootstrap_ci([0, 1], [0, 1], **kwargs)


def test_bootstrap_rejects_bad_labels():
    with pytest.raises(ValueError, match="y_true is empty"):
        metrics.bootstrap_ci([], [])
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        metrics.bootstrap_ci([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="y_pred must hold integer class indices"):
        metrics.bootstrap_ci([0, 1], [0, 0.5])
    with pytest.raises(ValueError, match=r"y_true must be 1-D"):
        metrics.bootstrap_ci([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match=r"y_pred holds classes in \[0, 2\], outside \[0, n_classes=2\)"):
        metrics.bootstrap_ci([0, 1], [0, 2], n_classes=2)


# ---------------------------------------------------------------------------- summarize_folds

# Three folds of a 2-class problem, counted by hand:
#   A: cm [[2, 1], [0, 1]]  recall 2/3, 1 -> UA 5/6; WA 3/4; F1 4/5, 2/3 -> 11/15
#   B: cm [[0, 2], [0, 2]]  recall 0, 1   -> UA 1/2; WA 1/2; F1 0, 2/3   -> 1/3
#   C: cm [[1, 0], [0, 1]]  recall 1, 1   -> UA 1;   WA 1;   F1 1, 1     -> 1
FOLDS = [([0, 0, 0, 1], [0, 0, 1, 1]),
         ([0, 0, 1, 1], [1, 1, 1, 1]),
         ([0, 1], [0, 1])]
NAMES = ["neg", "pos"]


def _fold_metrics():
    return [metrics.classification_metrics(t, p, target_names=NAMES) for t, p in FOLDS]


def test_fold_mean_and_population_std_by_hand():
    s = metrics.summarize_folds(_fold_metrics())
    assert s["n_folds"] == 3
    # UA 5/6, 1/2, 1: mean 7/9, deviations 1/18, -5/18, 4/18 -> var (1 + 25 + 16) / 324 / 3
    assert s["ua_mean"] == pytest.approx(7 / 9)
    assert s["ua_std"] == pytest.approx(math.sqrt(14) / 18)
    # WA 3/4, 1/2, 1: mean 3/4, deviations 0, -1/4, 1/4 -> var (1/16 + 1/16) / 3
    assert s["wa_mean"] == pytest.approx(3 / 4)
    assert s["wa_std"] == pytest.approx(math.sqrt(1 / 24))
    # macro F1 11/15, 1/3, 1: mean 31/45, deviations 2/45, -16/45, 14/45
    assert s["macro_f1_mean"] == pytest.approx(31 / 45)
    assert s["macro_f1_std"] == pytest.approx(math.sqrt((4 + 256 + 196) / 3) / 45)


def test_the_pooled_figures_come_from_the_summed_matrix():
    s = metrics.summarize_folds(_fold_metrics())
    pooled = s["pooled"]
    assert pooled["confusion_matrix"] == [[3, 3], [0, 4]]             # A + B + C
    assert pooled["class_names"] == NAMES and pooled["n"] == 10
    # recall neg 3/6, pos 4/4 -> UA 3/4 (not the fold mean 7/9); WA 7/10
    assert pooled["ua"] == pytest.approx(3 / 4)
    assert pooled["wa"] == pytest.approx(7 / 10)
    # F1 neg: P 3/3, R 1/2 -> 2/3; pos: P 4/7, R 1 -> 8/11
    assert pooled["macro_f1"] == pytest.approx((2 / 3 + 8 / 11) / 2)
    assert pooled["per_class"]["pos"] == pytest.approx(
        {"precision": 4 / 7, "recall": 1.0, "f1": 8 / 11, "accuracy": 7 / 10, "support": 4})
    # pooling the matrices is scoring the concatenated test sets
    all_true = sum((t for t, _ in FOLDS), [])
    all_pred = sum((p for _, p in FOLDS), [])
    assert pooled == metrics.classification_metrics(all_true, all_pred, target_names=NAMES)


def test_one_fold_has_zero_std_and_its_own_figures():
    fold = metrics.classification_metrics(*FOLDS[0], target_names=NAMES)
    s = metrics.summarize_folds([fold])
    assert s["ua_std"] == s["wa_std"] == s["macro_f1_std"] == 0.0
    assert s["ua_mean"] == fold["ua"] and s["pooled"] == fold


def test_summarize_folds_rejects_bad_folds():
    with pytest.raises(ValueError, match="fold_metrics is empty"):
        metrics.summarize_folds([])
    folds = _fold_metrics()
    folds[2] = metrics.classification_metrics(*FOLDS[2], target_names=["pos", "neg"])
    with pytest.raises(ValueError, match=r"fold_metrics\[2\] has class_names \['pos', 'neg'\] but "
                                         r"fold_metrics\[0\] has \['neg', 'pos'\]"):
        metrics.summarize_folds(folds)
    folds = _fold_metrics()
    del folds[1]["ua"]
    with pytest.raises(ValueError, match=r"fold_metrics\[1\] lacks \['ua'\]"):
        metrics.summarize_folds(folds)
