"""Data augmentation: additive noise, gain, pitch shifting, speed perturbation and SpecAugment masks.

Every random function takes an explicit ``rng`` (a ``numpy.random.Generator``) so results are
reproducible, and works on a batch ``(..., n_samples)`` (or ``(..., n_mels, n_frames)`` for
:func:`spec_augment`) with independent draws per clip, in one vectorized call.

Pitch shifting is librosa's two-step recipe, hand-written here: a phase-vocoder time stretch
by ``rate = 2^(-n_steps / 12)`` (duration ``n / rate``, pitch unchanged), then resampling by
``rate`` (duration back to ``n``, every frequency multiplied by ``2^(n_steps / 12)``).
Speed perturbation is the second step alone: resampling changes duration and pitch together,
like a tape played faster or slower (Kaldi's speed perturbation).
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._checks import check_audio, check_finite_number, check_int, check_positive_number, check_rng, per_clip
from .io import _resample_poly, fix_length
from .stft import istft, resolve_stft_params, stft

__all__ = ["awgn", "peak_noise", "gain", "phase_vocoder", "time_stretch", "pitch_shift", "speed_perturb",
           "spec_augment"]


def awgn(y, snr_db, rng):
    """Add white Gaussian noise at a given signal-to-noise ratio.

    With ``n ~ N(0, 1)`` i.i.d., the signal power ``Ps = mean(y^2)`` and the drawn noise's
    power ``Pn = mean(n^2)`` (per clip, over time),

        y_noisy = y + K n,   K = sqrt(Ps / Pn * 10^(-SNR / 10)),

    so ``10 log10(Ps / mean((K n)^2)) = SNR`` exactly for the noise actually drawn. A silent
    clip (``Ps = 0``) gets no noise: the SNR is relative to the signal.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
    snr_db : float or ndarray of shape y.shape[:-1]
        Target SNR in dB, one for all clips or one per clip.
    rng : numpy.random.Generator

    Returns
    -------
    y_noisy : ndarray, same shape and float dtype as ``y``

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; ``snr_db`` non-finite or of the wrong shape.
    TypeError
        ``rng`` is not a ``numpy.random.Generator``.
    """
    y = check_audio(y)
    rng = check_rng(rng)
    snr_db = per_clip(snr_db, y, "snr_db")
    noise = rng.standard_normal(y.shape, dtype=y.dtype)
    Ps = np.mean(np.square(y, dtype=np.float64), axis=-1, keepdims=True)
    Pn = np.mean(np.square(noise, dtype=np.float64), axis=-1, keepdims=True)
    K = np.sqrt(Ps / np.maximum(Pn, np.finfo(np.float64).tiny) * 10.0 ** (-snr_db / 10.0))
    return y + (K.astype(y.dtype) * noise)


def peak_noise(y, level, rng, random_scale=True):
    """Add Gaussian noise whose amplitude is relative to the clip's peak (the CREMA-D paper).

        y_noisy = y + level * u * max|y| * n,   n ~ N(0, 1),  u ~ U[0, 1)

    as in the paper's ``add_noise(y, noise_level=0.035)`` (which takes the peak as
    ``np.amax(y)``; here it is ``max|y|``, the peak amplitude, so the sign of the largest
    excursion does not matter). ``u`` is drawn once per clip; ``random_scale=False`` drops it
    (``u = 1``) for a fixed noise amplitude.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
    level : float >= 0 or ndarray of shape y.shape[:-1]
        Noise amplitude as a fraction of the peak (the paper uses 0.035).
    rng : numpy.random.Generator
    random_scale : bool
        Multiply by ``u ~ U[0, 1)`` per clip (the paper's form).

    Returns
    -------
    y_noisy : ndarray, same shape and float dtype as ``y``

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; ``level`` negative, non-finite or of the wrong
        shape.
    TypeError
        ``rng`` is not a ``numpy.random.Generator``.
    """
    y = check_audio(y)
    rng = check_rng(rng)
    level = per_clip(level, y, "level")
    if np.any(level < 0):
        raise ValueError(f"level must be >= 0; got min {float(np.min(level))}")
    peak = np.max(np.abs(y), axis=-1, keepdims=True).astype(np.float64)  # (..., 1)
    amplitude = level * peak
    if random_scale:
        amplitude = amplitude * rng.random(y.shape[:-1] + (1,))
    noise = rng.standard_normal(y.shape, dtype=y.dtype)
    return y + amplitude.astype(y.dtype) * noise


def gain(y, db):
    """Scale the volume by ``db`` decibels: ``y * 10^(db / 20)``.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
    db : float or ndarray of shape y.shape[:-1]
        Gain in dB (negative attenuates), one for all clips or one per clip.

    Returns
    -------
    y_gain : ndarray, same shape and float dtype as ``y``

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; ``db`` non-finite or of the wrong shape.
    """
    y = check_audio(y)
    db = per_clip(db, y, "db")
    return y * (10.0 ** (db / 20.0)).astype(y.dtype)


def phase_vocoder(D, rate, hop_length=None, n_fft=None):
    """Time-stretch an STFT by ``rate`` with a phase vocoder (Flanagan & Golden; Ellis's pvoc).

    Output frame ``t`` is read at fractional input position ``s_t = t * rate``
    (``t = 0 .. ceil(n_frames / rate) - 1``), with ``i = floor(s_t)``, ``a = s_t - i``:

        |out_t|   = (1 - a) |D_i| + a |D_{i+1}|                       (linear interpolation)
        dphi_t    = princarg(angle(D_{i+1}) - angle(D_i) - omega_k H)
        phase_0   = angle(D_0),   phase_{t+1} = phase_t + omega_k H + dphi_t
        out_t     = |out_t| exp(j phase_t)

    where ``omega_k H = 2 pi k hop_length / n_fft`` is the phase a sinusoid centred on bin ``k``
    advances in one hop, ``princarg`` wraps to ``[-pi, pi]`` and columns past the end
    are zero. The recursion is a cumulative sum, so all frames (and all clips) are computed at
    once with ``np.cumsum``. This is ``librosa.phase_vocoder``.

    Parameters
    ----------
    D : ndarray, shape (..., n_freq, n_frames), complex
    rate : float > 0
        Speed-up factor: > 1 shortens, < 1 lengthens.
    hop_length : int > 0 or None
        Hop of ``D``; default ``n_fft // 4``.
    n_fft : int > 0 or None
        Default ``2 * (n_freq - 1)``.

    Returns
    -------
    D_stretched : ndarray, shape (..., n_freq, ceil(n_frames / rate)), same dtype as ``D``

    Raises
    ------
    ValueError
        ``rate`` not a finite number > 0; ``D`` with fewer than 2 dimensions or no frame;
        ``n_fft`` or ``hop_length`` not an integer >= 1.
    """
    D = np.asarray(D)
    rate = check_positive_number("rate", rate)
    if D.ndim < 2 or D.shape[-1] < 1:
        raise ValueError(f"D must have shape (..., n_freq, n_frames) with n_frames >= 1; got {D.shape}")
    if n_fft is None:
        n_fft = 2 * (D.shape[-2] - 1)
    n_fft = check_int("n_fft", n_fft, minimum=1)
    hop_length = n_fft // 4 if hop_length is None else hop_length
    hop_length = check_int("hop_length", hop_length, minimum=1)

    n_freq, n_frames = D.shape[-2:]
    steps = np.arange(0, n_frames, rate, dtype=np.float64)      # (T,) fractional input positions
    idx = steps.astype(np.int64)                                  # floor
    alpha = (steps - idx).astype(np.float64)                      # (T,)
    # Two zero columns after the end so that D[i + 1] exists for the last positions.
    Dp = np.concatenate([D, np.zeros(D.shape[:-1] + (2,), dtype=D.dtype)], axis=-1)
    left, right = Dp[..., idx], Dp[..., idx + 1]                  # (..., n_freq, T)

    mag = (1.0 - alpha) * np.abs(left) + alpha * np.abs(right)    # (..., n_freq, T)
    # Expected phase advance of bin k over one hop: 2 pi k hop_length / n_fft.
    phi_advance = (2.0 * np.pi * hop_length / n_fft) * np.arange(n_freq)[:, np.newaxis]  # (n_freq, 1)
    dphase = np.angle(right).astype(np.float64) - np.angle(left) - phi_advance
    dphase -= 2.0 * np.pi * np.round(dphase / (2.0 * np.pi))      # wrap to [-pi, pi]
    # phase_t = angle(D_0) + sum_{s < t} (phi_advance + dphase_s): an exclusive cumulative sum.
    increments = phi_advance + dphase
    phase = np.empty_like(increments)
    phase[..., 0] = np.angle(D[..., 0])
    np.cumsum(increments[..., :-1], axis=-1, out=phase[..., 1:])
    phase[..., 1:] += phase[..., :1]
    return (mag * np.exp(1j * phase)).astype(D.dtype)


def time_stretch(y, rate, n_fft=2048, hop_length=None, win_length=None, window="hann"):
    """Change duration by ``1 / rate`` without changing pitch: stft -> phase vocoder -> istft.

    ``len(out) = round(n_samples / rate)``. This is ``librosa.effects.time_stretch``.

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
    rate : float > 0
        Speed-up factor (2: twice as fast, half as long).
    n_fft, hop_length, win_length, window
        STFT parameters (see :func:`dsp.stft`).

    Returns
    -------
    y_stretched : ndarray, shape (..., round(n_samples / rate)), float dtype of ``y``

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; ``rate`` not a finite number > 0; bad STFT
        geometry or window (see :func:`dsp.stft`).
    """
    y = check_audio(y)
    rate = check_positive_number("rate", rate)
    n_fft, hop_length, win_length = resolve_stft_params(n_fft, hop_length, win_length)
    D = stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    D_stretch = phase_vocoder(D, rate, hop_length=hop_length, n_fft=n_fft)
    length = max(1, int(round(y.shape[-1] / rate)))
    return istft(D_stretch, hop_length=hop_length, win_length=win_length, n_fft=n_fft, window=window,
                 dtype=y.dtype, length=length)


def pitch_shift(y, sr, n_steps, bins_per_octave=12, n_fft=2048, hop_length=None, win_length=None,
                window="hann"):
    """Shift the pitch by ``n_steps`` semitones, keeping the duration.

    With ``rate = 2^(-n_steps / bins_per_octave)``: time-stretch by ``rate`` (the clip lasts
    ``n / rate`` samples at the same pitch), then resample by the factor ``rate`` (back to
    ``n`` samples; played at ``sr`` every frequency is multiplied by ``1 / rate``
    ``= 2^(n_steps / bins_per_octave)``), then trim/pad to exactly ``n`` samples. This is
    ``librosa.effects.pitch_shift``. The resampling ratio ``rate`` is irrational, so the
    polyphase resampler uses its best rational approximation with denominator <= 1000
    (relative error < 1e-6, i.e. under 0.00002 semitones).

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
    sr : float > 0
        Sampling rate (only checked: the shift is relative, so it does not depend on ``sr``).
    n_steps : float
        Shift in fractions of an octave: semitones for ``bins_per_octave=12``; negative is down.
    bins_per_octave : int > 0
    n_fft, hop_length, win_length, window
        STFT parameters of the time stretch.

    Returns
    -------
    y_shift : ndarray, same shape and float dtype as ``y``

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; ``sr`` not > 0; ``n_steps`` non-finite;
        ``bins_per_octave`` not an integer >= 1; bad STFT geometry or window.

    Notes
    -----
    librosa's ``pitch_shift`` resamples with ``res_type='soxr_hq'`` by default; this one
    always uses the polyphase filter of :func:`dsp.resample` (librosa's
    ``res_type='polyphase'``), so the output differs from librosa's default by the
    resampler's passband ripple and transition band.
    """
    y = check_audio(y)
    check_positive_number("sr", sr)
    n_steps = check_finite_number("n_steps", n_steps)
    bins_per_octave = check_int("bins_per_octave", bins_per_octave, minimum=1)
    rate = 2.0 ** (-n_steps / bins_per_octave)
    stretched = time_stretch(y, rate, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
    ratio = Fraction(rate).limit_denominator(1000)
    shifted = _resample_poly(stretched, ratio.numerator, ratio.denominator)
    return np.ascontiguousarray(fix_length(shifted, y.shape[-1]))


def speed_perturb(y, rate):
    """Play the signal ``rate`` times faster: tempo and pitch change together (Ko et al., 2015).

    The clip is resampled by the factor ``1 / rate`` and read at its original sampling rate:
    from ``n`` to ``n_out = round(n / rate)`` samples, so it lasts ``1 / rate`` times as long
    and a sinusoid of frequency ``f`` becomes one of frequency ``rate * f``::

        y_out[m] = y(m * rate / sr)      (band-limited interpolation, m = 0 .. n_out - 1)

    ``rate`` is approximated by the nearest fraction ``p / q`` with ``q <= 1000``
    (``fractions.Fraction(rate).limit_denominator(1000)``; exact for rates such as 0.9, 1.1 or
    0.95) and the polyphase filter of :func:`dsp.resample` upsamples by ``q`` and
    downsamples by ``p``; its low-pass removes what would alias when speeding up. The output
    is then trimmed or zero-padded to ``round(n / rate)`` samples.

    Source: T. Ko, V. Peddinti, D. Povey and S. Khudanpur, "Audio augmentation for speech
    recognition", Interspeech 2015 (rates 0.9, 1.0 and 1.1; Kaldi's ``sox speed``).

    Parameters
    ----------
    y : ndarray, shape (..., n_samples), float
        Audio; leading dimensions are a batch, resampled in one call.
    rate : float > 0
        Speed factor: 1.1 is 10 % faster (shorter, higher), 0.9 10 % slower (longer, lower).

    Returns
    -------
    y_fast : ndarray, shape (..., max(1, round(n_samples / rate))), float dtype of ``y``
        A copy of ``y`` when ``rate == 1``.

    Raises
    ------
    ValueError
        ``y`` not float, empty or non-finite; ``rate`` not a finite number > 0.

    Notes
    -----
    This is a resampling, not a phase vocoder: unlike :func:`time_stretch` it shifts the
    pitch, and unlike :func:`pitch_shift` it changes the length.
    """
    y = check_audio(y)
    rate = check_positive_number("rate", rate)
    if rate == 1.0:
        return y.copy()
    n_out = max(1, int(round(y.shape[-1] / rate)))
    ratio = Fraction(rate).limit_denominator(1000)   # rate ~ p / q
    # n samples -> n * q / p samples: up by q = ratio.denominator, down by p = ratio.numerator.
    y_fast = _resample_poly(y, ratio.denominator, ratio.numerator)   # (..., ceil(n q / p))
    return np.ascontiguousarray(fix_length(y_fast, n_out))


def spec_augment(S, rng, n_freq_masks=2, F=8, n_time_masks=2, T=8, mask_value=0.0):
    """SpecAugment frequency and time masking (Park et al., 2019), as in the CREMA-D paper.

    For each example, independently: ``n_freq_masks`` times draw a width ``f ~ U{0, .., F-1}``
    and a start ``f0 ~ U{0, .., n_mels - f - 1}`` and set rows ``f0 .. f0 + f - 1`` to
    ``mask_value``; likewise ``n_time_masks`` bands of ``t ~ U{0, .., T-1}`` frames from
    ``t0 ~ U{0, .., n_frames - t - 1}``. (The paper's code: ``f = randint(0, F)``,
    ``f0 = randint(0, n_mels - f)``.) Masks may overlap and a width may be 0.

    Parameters
    ----------
    S : ndarray, shape (..., n_mels, n_frames)
        Spectrogram(s), e.g. log-mel; leading dimensions are a batch.
    rng : numpy.random.Generator
    n_freq_masks, n_time_masks : int >= 0
    F : int, 1 <= F <= n_mels
        Mask widths are drawn below ``F``.
    T : int, 1 <= T <= n_frames
    mask_value : float
        Value written into masked cells (the paper: 0).

    Returns
    -------
    S_masked : ndarray, same shape and dtype as ``S`` (a new array; ``S`` is not modified)

    Raises
    ------
    ValueError
        ``S`` with fewer than 2 dimensions; mask counts < 0; ``F`` not in ``[1, n_mels]`` or
        ``T`` not in ``[1, n_frames]``.
    TypeError
        ``rng`` is not a ``numpy.random.Generator``.
    """
    S = np.asarray(S)
    rng = check_rng(rng)
    if S.ndim < 2:
        raise ValueError(f"S must have shape (..., n_mels, n_frames); got {S.shape}")
    n_mels, n_frames = S.shape[-2:]
    n_freq_masks = check_int("n_freq_masks", n_freq_masks, minimum=0)
    n_time_masks = check_int("n_time_masks", n_time_masks, minimum=0)
    F = check_int("F", F, minimum=1)
    T = check_int("T", T, minimum=1)
    if F > n_mels:
        raise ValueError(f"F={F} must be <= n_mels={n_mels} (S.shape[-2])")
    if T > n_frames:
        raise ValueError(f"T={T} must be <= n_frames={n_frames} (S.shape[-1])")

    batch = S.shape[:-2]

    def band_mask(n_masks, max_width, size):
        """Boolean (..., size): True inside any of n_masks random bands of width < max_width."""
        width = rng.integers(0, max_width, size=batch + (n_masks,))        # (..., n_masks)
        start = rng.integers(0, size - width)                               # (..., n_masks)
        pos = np.arange(size)                                               # (size,)
        inside = (pos >= start[..., None]) & (pos < (start + width)[..., None])  # (..., n_masks, size)
        return inside.any(axis=-2)                                          # (..., size)

    freq_mask = band_mask(n_freq_masks, F, n_mels)    # (..., n_mels)
    time_mask = band_mask(n_time_masks, T, n_frames)  # (..., n_frames)
    masked = freq_mask[..., :, None] | time_mask[..., None, :]  # (..., n_mels, n_frames)
    return np.where(masked, np.asarray(mask_value, dtype=S.dtype), S)
