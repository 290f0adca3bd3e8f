"""Every documented bad input raises ValueError naming the parameter and its constraint."""
import numpy as np
import pytest

import dsp

Y = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
RNG = np.random.default_rng(0)
NAN_Y = Y.copy()
NAN_Y[10] = np.nan
INF_Y = Y.copy()
INF_Y[-1] = -np.inf

CASES = [
    # (id, call, regex the message must match)
    ("n_fft<1", lambda: dsp.stft(Y, n_fft=0), r"n_fft=0 must be an integer >= 1"),
    ("n_fft float", lambda: dsp.stft(Y, n_fft=512.0), r"n_fft=512.0 must be an integer"),
    ("hop_length<1", lambda: dsp.stft(Y, n_fft=512, hop_length=0), r"hop_length=0 must be an integer >= 1"),
    ("default hop 0", lambda: dsp.stft(Y, n_fft=2), r"hop_length=0 must be >= 1"),
    ("win_length>n_fft", lambda: dsp.stft(Y, n_fft=512, win_length=1024), r"win_length=1024 must be <= n_fft=512"),
    ("win_length<1", lambda: dsp.stft(Y, n_fft=512, win_length=0), r"win_length=0 must be an integer >= 1"),
    ("unknown window", lambda: dsp.stft(Y, window="kaiser"), r"window='kaiser' is not supported"),
    ("pad_mode", lambda: dsp.stft(Y, pad_mode="zeros"), r"pad_mode='zeros' must be one of"),
    ("uncentred too short", lambda: dsp.stft(Y[:100], n_fft=512, center=False), r"n_fft=512 must be <= the signal length 100"),
    ("stft NaN", lambda: dsp.stft(NAN_Y), r"y must contain only finite values; found 1 NaN or infinite"),
    ("stft inf", lambda: dsp.stft(INF_Y), r"y must contain only finite values"),
    ("stft empty", lambda: dsp.stft(np.zeros(0, np.float32)), r"y must contain at least one sample"),
    ("stft batch empty", lambda: dsp.stft(np.zeros((3, 0), np.float32)), r"at least one sample .* shape \(3, 0\)"),
    ("stft int audio", lambda: dsp.stft(np.zeros(100, np.int16)), r"y must be a real floating-point array"),
    ("istft n_fft", lambda: dsp.istft(np.zeros((257, 4), np.complex64), n_fft=1024), r"stft_matrix.shape\[-2\]=257 must equal"),
    ("mel fmax>sr/2", lambda: dsp.melspectrogram(y=Y, sr=16000, fmax=9000), r"fmax=9000 must be <= sr/2=8000.0"),
    ("filterbank fmax", lambda: dsp.mel_filterbank(16000, 512, fmax=8001), r"fmax=8001 must be <= sr/2=8000.0"),
    ("fmin>=fmax", lambda: dsp.mel_filterbank(16000, 512, fmin=4000, fmax=3000), r"fmin=4000 must be < fmax=3000"),
    ("fmin<0", lambda: dsp.mel_filterbank(16000, 512, fmin=-1.0), r"fmin=-1.0 must be >= 0"),
    ("n_mels<1", lambda: dsp.mel_filterbank(16000, 512, n_mels=0), r"n_mels=0 must be an integer >= 1"),
    ("sr<=0", lambda: dsp.mel_filterbank(0, 512), r"sr=0 must be > 0"),
    ("norm", lambda: dsp.mel_filterbank(16000, 512, norm="l2"), r"norm='l2' must be 'slaney', None"),
    ("mel n_fft<1", lambda: dsp.melspectrogram(y=Y, n_fft=0), r"n_fft=0 must be an integer >= 1"),
    ("mel hop<1", lambda: dsp.melspectrogram(y=Y, hop_length=-3), r"hop_length=-3 must be an integer >= 1"),
    ("mel window", lambda: dsp.melspectrogram(y=Y, window="blackman"), r"window='blackman' is not supported"),
    ("mel NaN", lambda: dsp.melspectrogram(y=NAN_Y), r"y must contain only finite values"),
    ("mel empty", lambda: dsp.melspectrogram(y=np.zeros(0, np.float32)), r"y must contain at least one sample"),
    ("mel y and S", lambda: dsp.melspectrogram(y=Y, S=np.ones((1025, 3))), r"exactly one of y"),
    ("db negative", lambda: dsp.power_to_db(np.array([[1.0, -0.5]])), r"S must be a power spectrogram with values >= 0; found 1 negative"),
    ("db NaN", lambda: dsp.power_to_db(np.array([[1.0, np.nan]])), r"values >= 0; found 1 negative or NaN"),
    ("db amin", lambda: dsp.power_to_db(np.ones((2, 2)), amin=0.0), r"amin=0.0 must be > 0"),
    ("db top_db", lambda: dsp.power_to_db(np.ones((2, 2)), top_db=-1.0), r"top_db=-1.0 must be a finite number >= 0"),
    ("db empty", lambda: dsp.power_to_db(np.ones((0, 3))), r"S must contain at least one value"),
    ("delta even width", lambda: dsp.delta(np.ones((2, 20)), width=4), r"width=4 must be an odd integer >= 3"),
    ("delta width<3", lambda: dsp.delta(np.ones((2, 20)), width=1), r"width=1 must be an integer >= 3"),
    ("delta order", lambda: dsp.delta(np.ones((2, 20)), order=0), r"order=0 must be an integer >= 1"),
    ("delta interp short", lambda: dsp.delta(np.ones((2, 5)), width=9), r"width=9 must be <= data.shape\[axis\]=5"),
    ("delta mode", lambda: dsp.delta(np.ones((2, 20)), mode="reflect"), r"mode='reflect' must be one of"),
    ("frame too short", lambda: dsp.frame(Y[:10], 16, 4), r"x.shape\[-1\]=10 must be >= frame_length=16"),
    ("frame hop", lambda: dsp.frame(Y, 16, 0), r"hop_length=0 must be an integer >= 1"),
    ("window Nx", lambda: dsp.get_window("hann", 0), r"Nx=0 must be an integer >= 1"),
    ("resample sr", lambda: dsp.resample(Y, 0, 16000), r"orig_sr=0 must be an integer >= 1"),
    ("resample float sr", lambda: dsp.resample(Y, 16000, 22050.5), r"target_sr=22050.5 must be an integer"),
    ("resample NaN", lambda: dsp.resample(NAN_Y, 16000, 8000), r"y must contain only finite values"),
    ("fix_length size", lambda: dsp.fix_length(Y, -1), r"size=-1 must be an integer >= 0"),
    ("standardize empty", lambda: dsp.standardize(np.zeros((2, 0), np.float32)), r"y must contain at least one sample"),
    ("standardize NaN", lambda: dsp.standardize(NAN_Y), r"y must contain only finite values"),
    ("standardize eps", lambda: dsp.standardize(Y, eps=0.0), r"eps=0.0 must be > 0"),
    ("normalize NaN", lambda: dsp.normalize(NAN_Y), r"S must contain only finite values; found 1 NaN"),
    ("normalize norm<0", lambda: dsp.normalize(Y, norm=-1), r"norm=-1 must be np.inf, -np.inf, 0, a number > 0 or None"),
    ("normalize threshold", lambda: dsp.normalize(Y, threshold=0.0), r"threshold=0.0 must be > 0"),
    ("normalize fill", lambda: dsp.normalize(Y, fill="yes"), r"fill='yes' must be None, False or True"),
    ("normalize fill l0", lambda: dsp.normalize(Y, norm=0, fill=True), r"fill=True is not possible with norm=0"),
    ("normalize axis", lambda: dsp.normalize(Y, axis=1), r"axis=1 is out of range for S with 1 dimension"),
    ("normalize empty", lambda: dsp.normalize(np.zeros((0, 3))), r"S must have at least one entry along axis=0"),
    ("filterbank norm<0", lambda: dsp.mel_filterbank(16000, 512, norm=-2), r"norm=-2 must be 'slaney', None"),
    ("awgn NaN", lambda: dsp.awgn(NAN_Y, 10.0, RNG), r"y must contain only finite values"),
    ("awgn snr shape", lambda: dsp.awgn(np.ones((3, 10), np.float32), np.ones(2), RNG), r"snr_db must be a scalar or have one value per clip"),
    ("awgn snr nan", lambda: dsp.awgn(Y, np.nan, RNG), r"snr_db=nan must be finite"),
    ("peak level<0", lambda: dsp.peak_noise(Y, -0.1, RNG), r"level must be >= 0"),
    ("gain empty", lambda: dsp.gain(np.zeros(0, np.float32), 3.0), r"y must contain at least one sample"),
    ("pitch NaN", lambda: dsp.pitch_shift(NAN_Y, 16000, 2), r"y must contain only finite values"),
    ("pitch n_fft", lambda: dsp.pitch_shift(Y, 16000, 2, n_fft=0), r"n_fft=0 must be an integer >= 1"),
    ("stretch rate", lambda: dsp.time_stretch(Y, 0.0), r"rate=0.0 must be > 0"),
    ("specaug F", lambda: dsp.spec_augment(np.ones((8, 50)), RNG, F=9), r"F=9 must be <= n_mels=8"),
    ("specaug T", lambda: dsp.spec_augment(np.ones((64, 5)), RNG, T=8), r"T=8 must be <= n_frames=5"),
    ("specaug F<1", lambda: dsp.spec_augment(np.ones((64, 50)), RNG, F=0), r"F=0 must be an integer >= 1"),
    ("load sr", lambda: dsp.load("x.wav", sr=0), r"sr=0 must be an integer >= 1"),
]


@pytest.mark.parametrize("call,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_value_error_naming_the_constraint(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rng_must_be_a_generator():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dsp.awgn(Y, 10.0, rng=0)
