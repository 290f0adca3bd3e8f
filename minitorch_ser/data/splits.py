"""Train / validation / test splits: stratified random, speaker-independent, speaker K-fold.

A split is a plain dict ``{"train": idx, "val": idx, "test": idx}`` of sorted, disjoint int64
arrays of **row positions** (0 .. N-1) into the metadata table it was made from. Everything
here is generic over a label column and an optional speaker column, so BAVED, CREMA-D and any
manifest share it.

Two protocols:

- ``random_split``: every class is cut in the same proportions (stratified), so each set has
  the class balance of the whole. The same speaker appears in every set: the model can
  recognise voices instead of emotions, which flatters the score (the papers' protocol).
- ``speaker_split`` / ``speaker_kfold``: no speaker is in two sets (the honest protocol).
  Speakers contribute very uneven numbers of clips (in BAVED from 3 to 349), so splitting the
  speaker *ids* 80/10/10 can leave a test set of 40 clips. Instead speakers are assigned to sets
  so that the **clip** counts approach their targets with every class present, by a seeded
  search (``assign_groups``): a randomised greedy start, then hill climbing over moves of one
  speaker and swaps of two, repeated from several starts, keeping the lowest cost.

The cost of an assignment with clip counts ``n_gk`` (set g, class k), set sizes ``n_g``,
targets ``t_g = f_g N`` and overall class proportions ``p_k`` is

    cost = sum_g |n_g - t_g| / N                                  (clip fractions)
         + 0.5 * sum_g sum_k |n_gk - n_g p_k| / N                 (class balance)
         + 10 * #{(g, k) : f_g > 0, p_k > 0, n_gk = 0}            (a class missing from a set)

Oversampling (``oversample``) duplicates minority-class clips of the training indices it is
given; pass it ``split["train"]`` only, never validation or test indices.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd

from ..autograd.random import as_rng

SET_NAMES = ("train", "val", "test")


def _check_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fractions={tuple(fractions)} must hold 3 values (train, val, test)")
    if np.any(f < 0) or f[0] <= 0 or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions={tuple(fractions)} must be >= 0, with train > 0, summing to 1")
    return f


def _encode(labels) -> tuple[np.ndarray, np.ndarray]:
    """Class values (sorted) and each label's index into them."""
    classes, codes = np.unique(np.asarray(labels), return_inverse=True)
    return classes, codes.reshape(-1)


def _pack(parts: dict) -> dict:
    return {name: np.sort(np.asarray(parts.get(name, []), dtype=np.int64)) for name in SET_NAMES}


def check_split(split: dict, n: int | None = None) -> None:
    """Raise ``ValueError`` unless ``split`` has disjoint integer index arrays for train, val and
    test, all in ``[0, n)`` when ``n`` is given.

    Parameters
    ----------
    split : dict of str -> (n_set,) int array
        Row positions per set; must hold the keys ``"train"``, ``"val"`` and ``"test"``
        (further keys are ignored).
    n : int >= 0 or None
        Number of rows of the data; ``None`` skips the range check.

    Raises
    ------
    ValueError
        A set is missing, an index appears twice (in one set or in two), or (with ``n``) an
        index lies outside ``[0, n)``.
    """
    missing = [s for s in SET_NAMES if s not in split]
    if missing:
        raise ValueError(f"split is missing the set(s) {missing}; expected keys {SET_NAMES}")
    seen = np.concatenate([np.asarray(split[s], dtype=np.int64) for s in SET_NAMES])
    if len(np.unique(seen)) != len(seen):
        raise ValueError("split sets overlap or repeat an index: every clip must be in one set once")
    if n is not None and len(seen) and (seen.min() < 0 or seen.max() >= n):
        raise ValueError(f"split indices must lie in [0, {n}), got [{seen.min()}, {seen.max()}]")


# ================================================================================ random split
def random_split(labels, fractions=(0.8, 0.1, 0.1), seed: int = 0, groups=None,
                 class_names=None) -> dict:
    """Stratified random split: each class is shuffled and cut in the proportions ``fractions``.

    Per class with ``n_c`` clips, validation and test get ``floor(f n_c + 1/2)`` clips, at least
    one each when their fraction is positive and ``n_c >= 3``; training gets the rest. A class
    with fewer than 3 clips (or 3 groups) can miss validation or test: a warning names each
    class left out of a set whose fraction is positive, since its test figures would be 0/0.

    With ``groups`` (e.g. ``dup_group``: copies of one recording), a group is never cut: the
    units shuffled within a class are whole groups (a group counts in the class of its first
    row), and each set takes groups while the next group's clips bring its count closer to
    the target. Without groups, or when every group is a single clip, the result is the same
    as without ``groups``.

    Parameters
    ----------
    labels : (N,) array-like
        Class of each clip (any sortable values).
    fractions : (float, float, float)
        Train, validation and test fractions; >= 0, train > 0, summing to 1.
    seed : int
        Seed of the shuffles.
    groups : (N,) array-like or None
        Group of each clip; all clips of one group land in the same set.
    class_names : sequence of str or None
        Names of integer class values, used in warnings only.

    Returns
    -------
    split : dict of str -> (n_set,) int64
        ``{"train", "val", "test"}`` row positions, sorted.

    Raises
    ------
    ValueError
        Bad ``fractions``, or ``groups`` of another length than ``labels``.

    Warns
    -----
    UserWarning
        When a class is absent from validation or test although that set's fraction is > 0.
    """
    f = _check_fractions(fractions)
    classes, codes = _encode(labels)
    if groups is None:
        first = np.arange(len(codes))
    else:
        groups = np.asarray(groups)
        if groups.shape != codes.shape:
            raise ValueError(f"groups has shape {groups.shape}, labels {codes.shape}: "
                             "one group per clip")
        _, first_pos, inverse = np.unique(groups, return_index=True, return_inverse=True)
        first = first_pos[inverse.reshape(-1)]            # first row of each row's group
    members = {}
    for i, g in enumerate(first):
        members.setdefault(int(g), []).append(i)
    rng = np.random.default_rng(seed)
    parts = {name: [] for name in SET_NAMES}
    for c in range(codes.max() + 1 if len(codes) else 0):
        units = rng.permutation(np.flatnonzero((codes == c) & (first == np.arange(len(codes)))))
        sizes = np.array([len(members[int(u)]) for u in units], dtype=np.int64)
        n_c = int(sizes.sum())
        n_val, n_test = (int(np.floor(x * n_c + 0.5)) for x in f[1:])
        if len(units) >= 3:
            n_val = max(n_val, 1) if f[1] > 0 else 0
            n_test = max(n_test, 1) if f[2] > 0 else 0
        # cut points on group boundaries nearest to the clip targets (keep >= 1 unit training)
        ends = np.concatenate([[0], np.cumsum(sizes)])
        cut_val = _nearest_boundary(ends, n_val, 0, len(units) - 1)
        cut_test = _nearest_boundary(ends, ends[cut_val] + n_test, cut_val, len(units) - 1)
        if n_val > 0 and cut_val == 0 and len(units) >= 3:
            cut_val = 1
        if n_test > 0 and cut_test == cut_val and cut_val < len(units) - 1 and len(units) >= 3:
            cut_test = cut_val + 1
        rows = [np.asarray(members[int(u)], dtype=np.int64) for u in units]
        take = lambda a, b: np.concatenate(rows[a:b]) if b > a else np.zeros(0, np.int64)
        parts["val"].append(take(0, cut_val))
        parts["test"].append(take(cut_val, cut_test))
        parts["train"].append(take(cut_test, len(units)))
    split = _pack({k: np.concatenate(v) if v else [] for k, v in parts.items()})
    _warn_small_classes(split, codes, _display(classes, class_names), f,
                        grouped=groups is not None)
    return split


def _warn_small_classes(split: dict, codes: np.ndarray, classes, f: np.ndarray,
                        grouped: bool) -> None:
    """Warn, naming them, about the classes that ``random_split`` left out of validation or test
    (a set with a positive fraction)."""
    missing = []
    for c, name in enumerate(classes):
        sets = [s for s, frac in zip(SET_NAMES[1:], f[1:])
                if frac > 0 and not np.any(codes[split[s]] == c)]
        if sets:
            n_c = int(np.sum(codes == c))
            missing.append(f"class '{name}' ({n_c} clip{'s' if n_c > 1 else ''}) not in "
                           + " or ".join(sets))
    if missing:
        unit = "clips or groups" if grouped else "clips"
        warnings.warn(f"random_split: a class needs at least 3 {unit} to reach every set; "
                      + "; ".join(missing), stacklevel=3)


def _nearest_boundary(ends: np.ndarray, target: float, lo: int, hi: int) -> int:
    """Unit count ``u`` in ``[lo, hi]`` whose clip total ``ends[u]`` is nearest ``target``
    (the smaller on a tie)."""
    hi = max(hi, lo)
    candidates = np.arange(lo, hi + 1)
    return int(candidates[np.argmin(np.abs(ends[candidates] - target))])


# ========================================================================= speaker assignment
def _cost(counts: np.ndarray, targets: np.ndarray, p: np.ndarray, active: np.ndarray,
          n: int) -> np.ndarray:
    """Cost (module docstring) of clip counts ``counts : (..., G, K)`` -> ``(...)``."""
    sizes = counts.sum(-1)                                            # (..., G)
    size_err = np.abs(sizes - targets).sum(-1) / n
    balance = (np.abs(counts - sizes[..., None] * p).sum(-1) * active).sum(-1) / n
    missing = ((counts == 0) & (p > 0) & active[:, None]).sum((-1, -2))
    return size_err + 0.5 * balance + 10.0 * missing


def assign_groups(counts: np.ndarray, fractions, rng: np.random.Generator, n_restarts: int = 10,
                  max_swap_units: int = 400) -> np.ndarray:
    """Assign units (speakers) to groups so each group's clip count nears its fraction.

    Parameters
    ----------
    counts : (S, K) int
        Clips of each unit per class.
    fractions : (G,) float
        Target fraction of all clips per group (sum 1); groups with fraction 0 stay empty.
    rng : numpy.random.Generator
        Randomises the greedy starts (the result is a function of its state).
    n_restarts : int >= 1
        Independent starts; the lowest-cost result is kept.
    max_swap_units : int
        Swaps of two units are tried only when ``S`` is at most this (their search is
        ``O(S^2 G K)`` per step); single moves always are.

    Returns
    -------
    group : (S,) int64
        Group of each unit, minimising the module's cost function locally.
    """
    counts = np.asarray(counts, dtype=np.float64)
    frac = np.asarray(fractions, dtype=np.float64)
    n_units, _ = counts.shape
    n_groups = len(frac)
    n = counts.sum()
    targets = frac * n
    p = counts.sum(0) / n
    active = frac > 0
    sizes = counts.sum(1)
    eye = np.eye(n_groups)
    best, best_cost = None, np.inf
    for _ in range(n_restarts):
        # randomised greedy start: each unit, in random order, joins the most under-filled group
        group = np.zeros(n_units, dtype=np.int64)
        filled = np.zeros(n_groups)
        for s in rng.permutation(n_units):
            deficit = np.where(active, targets - filled, -np.inf)
            g = int(np.argmax(deficit + 1e-9 * rng.random(n_groups)))
            group[s] = g
            filled[g] += sizes[s]
        # hill climbing: apply the best single move or pairwise swap while the cost falls
        for _ in range(20 * n_units + 20):
            onehot = eye[group]                                       # (S, G)
            totals = onehot.T @ counts                                # (G, K)
            current = _cost(totals, targets, p, active, n)
            # move unit s to group g: totals + (e_g - e_group[s]) (x) counts[s]
            delta = (eye[None, :, :] - onehot[:, None, :])            # (S, G, G)
            moves = totals + delta[..., None] * counts[:, None, None, :]  # (S, G, G, K)
            move_cost = _cost(moves, targets, p, active, n)           # (S, G)
            move_cost[:, ~active] = np.inf
            s_m, g_m = np.unravel_index(np.argmin(move_cost), move_cost.shape)
            cand = [(move_cost[s_m, g_m], "move", s_m, g_m)]
            if n_units <= max_swap_units:
                # swap units s and t: totals + (e_group[t] - e_group[s]) (x) (counts[s] - counts[t])
                dg = onehot[None, :, :] - onehot[:, None, :]          # (S, S, G)
                dc = counts[:, None, :] - counts[None, :, :]          # (S, S, K)
                swap_cost = _cost(totals + dg[..., None] * dc[:, :, None, :],
                                  targets, p, active, n)              # (S, S)
                s_w, t_w = np.unravel_index(np.argmin(swap_cost), swap_cost.shape)
                cand.append((swap_cost[s_w, t_w], "swap", s_w, t_w))
            cost, kind, i, j = min(cand, key=lambda c: c[0])
            if cost >= current - 1e-12:
                break
            if kind == "move":
                group[i] = j
            else:
                group[i], group[j] = group[j], group[i]
        final = _cost(eye[group].T @ counts, targets, p, active, n)
        if final < best_cost - 1e-12:
            best, best_cost = group.copy(), final
    return best


def _speaker_table(df: pd.DataFrame, label_col: str, speaker_col: str):
    """Speaker of each row (codes), label codes, the (S, K) clip-count matrix and class names."""
    for col in (label_col, speaker_col):
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the data ({list(df.columns)})")
    classes, y = _encode(df[label_col].to_numpy())
    speakers, spk = _encode(df[speaker_col].astype(str).to_numpy())
    counts = np.zeros((len(speakers), len(classes)), dtype=np.int64)
    np.add.at(counts, (spk, y), 1)
    return spk, y, counts, classes, speakers


def _display(classes, class_names) -> list:
    """The names to print for class values: ``class_names[value]`` when given (integer labels
    of named classes), else the values."""
    if class_names is None:
        return list(classes)
    return [class_names[int(c)] if isinstance(c, (int, np.integer)) and 0 <= int(c) < len(
        class_names) else c for c in classes]


def _warn_missing(split: dict, y: np.ndarray, classes, where: str) -> None:
    missing = [f"class {classes[c]} in {name}" for name in SET_NAMES if len(split[name])
               for c in range(len(classes)) if not np.any(y[split[name]] == c)]
    if missing:
        warnings.warn(f"{where}: no speaker assignment puts every class in every set; missing "
                      + ", ".join(missing), stacklevel=3)


def speaker_split(df: pd.DataFrame, label_col: str = "emotion", speaker_col: str = "speaker",
                  fractions=(0.8, 0.1, 0.1), seed: int = 0, n_restarts: int = 10,
                  class_names=None) -> dict:
    """Speaker-independent split whose sets hold about ``fractions`` of the clips.

    Speakers are assigned whole to train, validation or test by ``assign_groups`` (module
    docstring: clip fractions, class balance, no class missing). A warning is given if some
    class still cannot be present in some set (e.g. a class spoken by a single speaker).

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        Metadata with ``label_col`` and ``speaker_col``.
    label_col, speaker_col : str
        Columns of the class and of the speaker identity.
    fractions : (float, float, float)
        Target fractions of **clips** in train, validation, test.
    seed : int
        Seed of the search.
    n_restarts : int >= 1
        Starts of the search.
    class_names : sequence of str or None
        Names of integer class values, used in warnings only.

    Returns
    -------
    split : dict of str -> (n_set,) int64
        Row positions per set; no speaker in two sets.

    Raises
    ------
    ValueError
        ``fractions`` not 3 values >= 0 summing to 1 with train > 0; a column missing; fewer
        speakers than non-empty sets.

    Warns
    -----
    UserWarning
        A class is absent from a set whose fraction is positive.
    """
    f = _check_fractions(fractions)
    spk, y, counts, classes, speakers = _speaker_table(df, label_col, speaker_col)
    needed = int((f > 0).sum())
    if len(speakers) < needed:
        raise ValueError(f"a speaker split into {needed} non-empty sets needs at least {needed} "
                         f"speakers, the data has {len(speakers)}")
    group = assign_groups(counts, f, np.random.default_rng(seed), n_restarts)
    row_group = group[spk]
    split = _pack({name: np.flatnonzero(row_group == g) for g, name in enumerate(SET_NAMES)})
    _warn_missing(split, y, _display(classes, class_names), "speaker_split")
    return split


def speaker_kfold(df: pd.DataFrame, k: int = 5, label_col: str = "emotion",
                  speaker_col: str = "speaker", val_fraction: float = 0.1, seed: int = 0,
                  n_restarts: int = 10, class_names=None) -> list[dict]:
    """Speaker-grouped K-fold cross-validation with balanced clip counts.

    Speakers are cut into ``k`` groups of about ``N / k`` clips each (``assign_groups`` with
    equal fractions); fold ``i`` tests on group ``i``. Its validation set is drawn from the
    other speakers, again whole speakers, holding about ``val_fraction`` of all N clips; the
    remaining speakers train. Every clip is in exactly one test set over the folds.

    Parameters
    ----------
    df : pandas.DataFrame, (N rows)
        Metadata with ``label_col`` and ``speaker_col``.
    k : int >= 2
        Number of folds, at most the number of speakers.
    label_col, speaker_col : str
        Columns of the class and of the speaker identity.
    val_fraction : float in [0, 1 - 1/k)
        Validation clips as a fraction of all clips (0: no validation set).
    seed : int
        Seed of the searches.
    n_restarts : int >= 1
        Starts of each search.
    class_names : sequence of str or None
        Names of integer class values, used in warnings only.

    Returns
    -------
    folds : list of k dicts ``{"train", "val", "test"}``
        Row positions; within a fold no speaker is in two sets.

    Raises
    ------
    ValueError
        A column missing; ``k`` outside ``[2, number of speakers]``; ``val_fraction`` outside
        ``[0, 1 - 1/k)``; a fold with fewer than 2 speakers left for a validation set.
    """
    spk, y, counts, classes, speakers = _speaker_table(df, label_col, speaker_col)
    if not 2 <= k <= len(speakers):
        raise ValueError(f"k={k} must be in [2, number of speakers={len(speakers)}]")
    if not 0 <= val_fraction < 1 - 1 / k:
        raise ValueError(f"val_fraction={val_fraction} must be in [0, 1 - 1/k = {1 - 1 / k:.3f})")
    rng = np.random.default_rng(seed)
    fold_of = assign_groups(counts, np.full(k, 1.0 / k), rng, n_restarts)
    n = counts.sum()
    folds = []
    for i in range(k):
        rest = np.flatnonzero(fold_of != i)                           # candidate speakers
        role = np.zeros(len(speakers), dtype=np.int64)                # 0 train, 1 val, 2 test
        role[fold_of == i] = 2
        if val_fraction > 0:
            share = val_fraction * n / counts[rest].sum()             # of the remaining clips
            if len(rest) < 2:
                raise ValueError(f"fold {i}: a validation set needs at least 2 speakers outside "
                                 "the test fold")
            sub = assign_groups(counts[rest], [1.0 - share, share], rng, n_restarts)
            role[rest[sub == 1]] = 1
        row_role = role[spk]
        split = _pack({name: np.flatnonzero(row_role == g) for g, name in enumerate(SET_NAMES)})
        _warn_missing(split, y, _display(classes, class_names), f"speaker_kfold fold {i}")
        folds.append(split)
    return folds


# =============================================================================== oversampling
def oversample(indices, labels, rng=None) -> np.ndarray:
    """Random oversampling: repeat clips of the smaller classes until every class has as many as
    the largest.

    Apply it to the **training** indices only (after the split), so no copy of a validation or
    test clip exists. Each class ``c`` present among ``labels[indices]`` with ``n_c < max n``
    gets ``max n - n_c`` extra indices drawn uniformly with replacement from its own.

    Parameters
    ----------
    indices : (M,) int
        Training row positions.
    labels : (N,) array-like
        Labels of all rows (indexed by ``indices``).
    rng : numpy.random.Generator or int or None
        Source of the draws (``as_rng``).

    Returns
    -------
    out : (K * max n,) int64
        ``indices`` followed by the extra draws, class by class.
    """
    indices = np.asarray(indices, dtype=np.int64)
    labels = np.asarray(labels)
    rng = as_rng(rng)
    if len(indices) == 0:
        return indices.copy()
    _, codes = _encode(labels[indices])
    per_class = np.bincount(codes)
    extra = [rng.choice(indices[codes == c], size=per_class.max() - n_c, replace=True)
             for c, n_c in enumerate(per_class) if n_c < per_class.max()]
    return np.concatenate([indices, *extra]).astype(np.int64)


# ========================================================================== summaries and I/O
def split_summary(split: dict, labels, speakers=None) -> pd.DataFrame:
    """Clips, share of clips, speakers and clips per class of each set.

    Parameters
    ----------
    split : dict
        ``{"train", "val", "test"}`` row positions.
    labels : (N,) array-like
        Class of every row.
    speakers : (N,) array-like, optional
        Speaker of every row (adds a ``speakers`` column).
    """
    labels = np.asarray(labels)
    classes = np.unique(labels)
    total = sum(len(split[s]) for s in SET_NAMES)
    rows = {}
    for name in SET_NAMES:
        idx = np.asarray(split[name], dtype=np.int64)
        row = {"clips": len(idx), "percent": round(100.0 * len(idx) / max(total, 1), 1)}
        if speakers is not None:
            row["speakers"] = len(np.unique(np.asarray(speakers)[idx]))
        for c in classes:
            row[str(c)] = int(np.sum(labels[idx] == c))
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def save_split(split: dict, path, paths=None, columns=None) -> None:
    """Write a split as CSV (``index, split`` and ``path`` when ``paths`` is given) or JSON
    (``{"train": [...], "val": [...], "test": [...]}`` plus ``"paths"``), by the file suffix.

    Parameters
    ----------
    split : dict
        ``{"train", "val", "test"}`` row positions.
    path : str or path
        Output file ending in ``.csv`` or ``.json``.
    paths : sequence of str, optional
        File of every row; stored so ``load_split`` can match rows by file.
    columns : pandas.DataFrame, optional, (N rows)
        Further columns of every row written into the CSV (e.g. ``content_hash``,
        ``dup_group``, ``speaker_group`` from ``data.duplicates``, so a reader can check that
        no recording of the test set is in training).

    Raises
    ------
    ValueError
        ``split`` fails ``check_split`` (against ``len(paths)`` when given), or ``path`` ends
        in neither ``.csv`` nor ``.json``.
    """
    check_split(split, None if paths is None else len(paths))
    path = os.fspath(path)
    index = np.concatenate([np.asarray(split[s], dtype=np.int64) for s in SET_NAMES])
    names = np.concatenate([[s] * len(split[s]) for s in SET_NAMES]).astype(str)
    order = np.argsort(index, kind="stable")
    if path.endswith(".csv"):
        table = pd.DataFrame({"index": index[order], "split": names[order]})
        if paths is not None:
            table.insert(1, "path", np.asarray(paths, dtype=object)[index[order]])
        if columns is not None:
            for name in columns.columns:
                table[name] = columns[name].to_numpy()[index[order]]
        table.to_csv(path, index=False)
    elif path.endswith(".json"):
        data = {s: [int(i) for i in split[s]] for s in SET_NAMES}
        if paths is not None:
            data["paths"] = {s: [str(paths[i]) for i in split[s]] for s in SET_NAMES}
        with open(path, "w") as f:
            json.dump(data, f, indent=1)
    else:
        raise ValueError(f"split file {path!r} must end in .csv or .json")


def _match_paths(stored: list, paths) -> np.ndarray:
    """Positions in ``paths`` of the ``stored`` file names: by full path, or by file name
    when the data folder moved (file names then have to be unique)."""
    lookup = {str(p): i for i, p in enumerate(paths)}
    pos = [lookup.get(str(p)) for p in stored]
    if any(i is None for i in pos):
        base = [os.path.basename(str(p)) for p in paths]
        if len(set(base)) == len(base):
            by_name = {b: i for i, b in enumerate(base)}
            pos = [by_name.get(os.path.basename(str(p))) for p in stored]
    missing = [str(p) for p, i in zip(stored, pos) if i is None]
    if missing:
        shown = "\n  ".join(missing[:20]) + ("\n  ..." if len(missing) > 20 else "")
        raise ValueError(f"{len(missing)} file(s) of the saved split are not in the data:\n  {shown}")
    return np.asarray(pos, dtype=np.int64)


def load_split(path, paths=None) -> dict:
    """Read a split written by ``save_split``.

    With ``paths`` (the current data's files) and a split file that stored paths, rows are
    matched by file (full path, else file name), so a reordered or moved dataset still gets
    the same clips; a stored file missing from ``paths`` is an error listing them.

    Parameters
    ----------
    path : str or path
        A ``.csv`` (columns ``index``, ``split`` [, ``path``, ...]) or ``.json`` file written
        by ``save_split``.
    paths : sequence of str (N,), optional
        The current data's file of every row. Without it the stored row positions are used
        as they are.

    Returns
    -------
    split : dict of str -> (n_set,) int64
        Sorted row positions for ``"train"``, ``"val"`` and ``"test"``.

    Raises
    ------
    ValueError
        The suffix is neither ``.csv`` nor ``.json``; a CSV lacks ``index`` or ``split`` or
        names an unknown set; a stored file is not among ``paths``; or the result fails
        ``check_split`` (overlapping sets, indices outside ``[0, len(paths))``).
    """
    path = os.fspath(path)
    if path.endswith(".csv"):
        table = pd.read_csv(path)
        if not {"index", "split"} <= set(table.columns):
            raise ValueError(f"{path}: a split CSV needs columns 'index' and 'split', "
                             f"found {list(table.columns)}")
        unknown = sorted(set(table["split"]) - set(SET_NAMES))
        if unknown:
            raise ValueError(f"{path}: unknown set names {unknown}; expected {SET_NAMES}")
        if paths is not None and "path" in table.columns:
            table["index"] = _match_paths(list(table["path"]), paths)
        split = _pack({s: table.loc[table["split"] == s, "index"].to_numpy() for s in SET_NAMES})
    elif path.endswith(".json"):
        with open(path) as f:
            data = json.load(f)
        if paths is not None and "paths" in data:
            split = _pack({s: _match_paths(data["paths"][s], paths) for s in SET_NAMES})
        else:
            split = _pack({s: data[s] for s in SET_NAMES})
    else:
        raise ValueError(f"split file {path!r} must end in .csv or .json")
    check_split(split, None if paths is None else len(paths))
    return split
