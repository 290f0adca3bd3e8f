"""Optional figures (PNG) with matplotlib: training curves and confusion matrices.

matplotlib is an optional extra (``pip install -e ".[plots]"``). Every function here returns the
path it wrote, or None without writing anything when matplotlib is not installed, so callers
never need to check for it themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")  # files only, no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def available() -> bool:
    """Whether matplotlib can be imported."""
    return _pyplot() is not None


def training_curves(history: list, path):
    """Loss and accuracy per epoch, train and validation, from ``fit``'s history rows.

    Parameters
    ----------
    history : list of dict
        One row per epoch (``FitResult.history``) with keys ``epoch``, ``train_loss``,
        ``val_loss``, ``train_acc``, ``val_acc``; empty: nothing is drawn.
    path : str or path
        The PNG to write (120 dpi); its folder must exist.

    Returns
    -------
    Path or None
        ``path``; None (nothing written) without matplotlib or with an empty ``history``.

    Raises
    ------
    KeyError
        A row lacks one of the keys above.
    OSError
        The file cannot be written (from ``savefig``).
    """
    plt = _pyplot()
    if plt is None or not history:
        return None
    epochs = [row["epoch"] for row in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        ax_loss.plot(epochs, [row[key] for row in history], label=label)
    for key, label in (("train_acc", "train"), ("val_acc", "validation")):
        ax_acc.plot(epochs, [row[key] for row in history], label=label)
    ax_loss.set_title("cross-entropy")
    ax_acc.set_title("accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def confusion_matrix(cm: np.ndarray, class_names, path, title: str = "confusion matrix"):
    """Heat map of a confusion matrix (rows: true class, columns: predicted) with counts.

    Parameters
    ----------
    cm : (K, K) int array-like
        ``cm[i, j]``: clips of true class ``i`` predicted as ``j`` (``metrics.confusion_matrix``).
    class_names : sequence of str, (K,)
        Tick labels of both axes.
    path : str or path
        The PNG to write (120 dpi); its folder must exist.
    title : str
        Title above the matrix.

    Returns
    -------
    Path or None
        ``path``; None (nothing written) without matplotlib.

    Raises
    ------
    IndexError
        ``cm`` is smaller than ``(K, K)``.
    OSError
        The file cannot be written (from ``savefig``).
    """
    plt = _pyplot()
    if plt is None:
        return None
    cm = np.asarray(cm)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 * k + 2.5, 1.0 * k + 2))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > threshold else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def spectrogram_with_weights(mel: np.ndarray, weights: np.ndarray, path, hop_seconds: float,
                             title: str = "log-mel and attention over time"):
    """Log-mel (n_mels, n_frames) above the attention weights over the pooled time steps.

    The time axis spans ``duration = n_frames * hop_seconds``; weight ``t`` of ``T`` is a bar
    over ``[t, t + 1) * duration / T`` seconds.

    Parameters
    ----------
    mel : (n_mels, n_frames) float
        The log-mel in dB (``Explanation.mel``), drawn with mel bin 0 at the bottom.
    weights : (T,) float, T >= 1
        Attention pooling weights over the model's time steps (``Explanation.weights``).
    path : str or path
        The PNG to write (120 dpi); its folder must exist.
    hop_seconds : float > 0
        Seconds between frames, ``hop_length / sr``.
    title : str
        Title above the log-mel.

    Returns
    -------
    Path or None
        ``path``; None (nothing written) without matplotlib.

    Raises
    ------
    OSError
        The file cannot be written (from ``savefig``).
    """
    plt = _pyplot()
    if plt is None:
        return None
    fig, (ax_mel, ax_w) = plt.subplots(2, 1, figsize=(8, 5), sharex=False,
                                       gridspec_kw={"height_ratios": [3, 1]})
    duration = mel.shape[-1] * hop_seconds
    ax_mel.imshow(mel, origin="lower", aspect="auto", extent=(0, duration, 0, mel.shape[0]))
    ax_mel.set_ylabel("mel bin")
    ax_mel.set_title(title)
    t = (np.arange(len(weights)) + 0.5) * duration / len(weights)
    ax_w.bar(t, weights, width=duration / len(weights))
    ax_w.set_xlim(0, duration)
    ax_w.set_xlabel("time (s)")
    ax_w.set_ylabel("weight")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
