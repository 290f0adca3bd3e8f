"""load (formats, channels, rates, failures, files as real tools write them), info, resample,
fix_length. (normalize and standardize: test_dsp_util.py.)"""
import math
import re
import struct
import warnings

import numpy as np
import pytest
from audio_backend import soundfile_or_skip
from hypothesis import given, settings, strategies as st

import dsp
from dsp.io import AudioTruncatedWarning

# Unusual but valid files: name -> (sample rate, channels, format, subtype, quantization step).
VALID_FORMATS = {
    "pcm16_16k_mono.wav": (16000, 1, "WAV", "PCM_16", 2.0 ** -15),
    "pcm16_44k_stereo.wav": (44100, 2, "WAV", "PCM_16", 2.0 ** -15),
    "u8_8k_mono.wav": (8000, 1, "WAV", "PCM_U8", 2.0 ** -7),
    "float_48k_mono.wav": (48000, 1, "WAV", "FLOAT", 1e-7),
    "double_16k_stereo.wav": (16000, 2, "WAV", "DOUBLE", 1e-12),
    "pcm24_22k_mono.wav": (22050, 1, "WAV", "PCM_24", 2.0 ** -23),
    "pcm16_16k_mono.flac": (16000, 1, "FLAC", "PCM_16", 2.0 ** -15),
    "pcm24_48k_stereo.flac": (48000, 2, "FLAC", "PCM_24", 2.0 ** -23),
}

sf = soundfile_or_skip()


def write_valid(write_audio, name):
    sr, channels, fmt, subtype, step = VALID_FORMATS[name]
    path, data = write_audio(name, sr, channels, fmt, subtype)
    return path, sr, data, step


@pytest.mark.parametrize("name", sorted(VALID_FORMATS))
def test_valid_files_load_natively(write_audio, name):
    path, sr, data, step = write_valid(write_audio, name)
    y, sr_out = dsp.load(path)
    assert sr_out == sr
    assert y.dtype == np.float32 and y.ndim == 1 and y.shape[0] == data.shape[0]
    # Mono is the average of the channels, up to the format's quantization step.
    np.testing.assert_allclose(y, data.mean(axis=1), atol=1.5 * step + 1e-7)


@pytest.mark.parametrize("name", sorted(VALID_FORMATS))
def test_valid_files_load_resampled_to_16k(write_audio, name, peak_frequency):
    path, sr, data, _ = write_valid(write_audio, name)
    y, sr_out = dsp.load(path, sr=16000)
    assert sr_out == 16000
    assert y.shape == (math.ceil(data.shape[0] * 16000 / sr),)
    # The left channel's 440 Hz tone dominates the mix (the right one is 660 Hz at half amplitude).
    assert peak_frequency(y, 16000) == pytest.approx(440.0, rel=2e-3)


def test_stereo_kept_when_not_mono(write_audio):
    path, sr, data, step = write_valid(write_audio, "pcm16_44k_stereo.wav")
    y, _ = dsp.load(path, mono=False)
    assert y.shape == (2, data.shape[0])
    np.testing.assert_allclose(y, data.T, atol=1.5 * step)


def test_offset_and_duration(write_audio):
    path, sr, data, step = write_valid(write_audio, "pcm16_16k_mono.wav")
    y, _ = dsp.load(path, offset=0.1, duration=0.2)
    np.testing.assert_allclose(y, data[1600:4800, 0], atol=1.5 * step)
    with pytest.raises(dsp.AudioLoadError, match="no samples"):
        dsp.load(path, offset=10.0)


@pytest.mark.parametrize("name,message", [
    ("missing.wav", "no such file"),
    ("empty.wav", "cannot decode"),
    ("no_samples.wav", "no samples"),
    ("cut_header.wav", "cannot decode.*no 'data' chunk"),
    ("notes.wav", "cannot decode"),
    ("nan.wav", "finite"),
    ("inf.wav", "finite"),
])
def test_bad_files_raise_naming_the_file(bad_audio_files, name, message):
    path = bad_audio_files[name]
    with pytest.raises(dsp.AudioLoadError, match=message) as info:
        dsp.load(path, sr=16000)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------ files as real tools write them

# data-chunk sizes that writers to a pipe leave in the header (they cannot seek back to patch it)
PIPE_PLACEHOLDERS = {"0xFFFFFFFF": 0xFFFFFFFF, "0x7FFFFFFF": 0x7FFFFFFF,
                     "sox 0x7FFFF000": 0x7FFFF000, "2_000_000_000": 2_000_000_000, "zero": 0}
WAV_SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]


def _stereo(n, sr=16000, seed=0):
    """(n, 2) float64 in [-0.9, 0.9]: a tone on the left, noise on the right."""
    rng = np.random.default_rng(seed)
    left = 0.6 * np.sin(2 * np.pi * 440.0 * np.arange(n) / sr)
    return np.stack([left, np.clip(0.3 * rng.standard_normal(n), -0.9, 0.9)], axis=1)


def _patch_data_size(raw: bytes, size: int) -> bytes:
    """A RIFF/WAVE file with its ``data`` and RIFF sizes replaced by ``size``."""
    at = raw.index(b"data")
    assert struct.unpack_from("<I", raw, at + 4)[0] == len(raw) - at - 8   # the true size
    out = bytearray(raw)
    out[4:8] = struct.pack("<I", size)
    out[at + 4:at + 8] = struct.pack("<I", size)
    return bytes(out)


def _load_quietly(path, **kwargs):
    """``dsp.load`` with every warning turned into an error (the read must be warning-free)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return dsp.load(path, **kwargs)


@pytest.mark.parametrize("subtype", WAV_SUBTYPES)
@pytest.mark.parametrize("placeholder", PIPE_PLACEHOLDERS.values(), ids=PIPE_PLACEHOLDERS.keys())
def test_pipe_written_wav_loads_every_sample(tmp_path, subtype, placeholder):
    n, sr = 5000, 16000
    good = tmp_path / "good.wav"
    sf.write(good, _stereo(n), sr, subtype=subtype)
    expected, _ = sf.read(good, dtype="float32")                     # (n, 2), quantized
    piped = tmp_path / "piped.wav"
    piped.write_bytes(_patch_data_size(good.read_bytes(), placeholder))
    y, sr_out = _load_quietly(piped, mono=False)
    assert sr_out == sr and y.shape == (2, n)
    np.testing.assert_array_equal(y, expected.T)
    info = dsp.io.info(piped)
    assert (info.frames, info.channels, info.samplerate) == (n, 2, sr)
    assert info.duration == pytest.approx(n / sr)


def test_pipe_written_wav_with_a_list_chunk_and_extensible_24_bit_header(tmp_path):
    # As ffmpeg writes to a pipe: a LIST/INFO chunk before "data", sizes left at 0, and
    # WAVE_FORMAT_EXTENSIBLE. Built byte by byte so the expected samples are known exactly.
    pcm = np.array([[0, -1], [8388607, -8388608], [1234567, -7654321], [-2, 3]], np.int64)
    payload = b"".join(int(v).to_bytes(3, "little", signed=True) for v in pcm.ravel())
    sr, channels, width = 22050, 2, 3
    pcm_guid = struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, channels, sr, sr * channels * width,
                      channels * width, 24, 22, 24, 0x3) + pcm_guid            # 40 bytes
    info = b"INFOISFT" + struct.pack("<I", 14) + b"Lavf60.16.100\0"
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"LIST" + struct.pack("<I", len(info)) + info
            + b"data" + struct.pack("<I", 0) + payload + b"\x7f")  # a partial frame at the end
    path = tmp_path / "ffmpeg_pipe.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 0) + body)
    y, sr_out = _load_quietly(path, mono=False, dtype=np.float64)
    assert sr_out == sr
    np.testing.assert_array_equal(y, pcm.T / 2.0 ** 23)
    assert dsp.io.info(path).subtype == "PCM_24"


def test_wav_cut_short_loads_the_samples_present(bad_audio_files):
    # Indistinguishable by its sizes from a pipe-written file: read what is there, quietly.
    path = bad_audio_files["truncated.wav"]
    whole, _ = sf.read(path.with_name("good.wav"), dtype="float32")
    n_present = (path.stat().st_size - 44) // 2         # 16-bit mono after a 44-byte header
    y, _ = _load_quietly(path)
    np.testing.assert_array_equal(y, whole[:n_present])


def test_pipe_written_wav_without_samples_says_so(tmp_path):
    path = tmp_path / "silent_pipe.wav"
    sf.write(path, np.zeros((0, 1)), 16000, subtype="PCM_16")
    path.write_bytes(_patch_data_size(path.read_bytes(), 0xFFFFFFFF))
    with pytest.raises(dsp.AudioLoadError, match=re.escape(f"{path}: contains no samples")):
        dsp.load(path)


def _flac_total_samples_offset(raw: bytes) -> int:
    """Byte offset of STREAMINFO's 36-bit total-samples field in a FLAC file.

    FLAC format: the marker "fLaC" (4 bytes), then the metadata block header (1 byte: last-block
    flag and type, STREAMINFO = 0; 3 bytes: length, 34), then STREAMINFO: min/max block size
    (2 + 2 bytes), min/max frame size (3 + 3), then 20 bits of sample rate, 3 of channels - 1,
    5 of bits per sample - 1 and 36 of total samples, i.e. the low 4 bits of STREAMINFO's
    byte 13 and its bytes 14..17.
    """
    assert raw[:4] == b"fLaC" and raw[4] & 0x7F == 0 and int.from_bytes(raw[5:8], "big") == 34
    return 8 + 13


def _flac_frame_starts(raw: bytes) -> list:
    """Byte offsets of the audio frames (14-bit sync code 0xFFF8 of fixed-blocksize frames)."""
    pos = 4
    while True:                                                # skip the metadata blocks
        last, length = raw[pos] & 0x80, int.from_bytes(raw[pos + 1:pos + 4], "big")
        pos += 4 + length
        if last:
            break
    return [pos + m.start() for m in re.finditer(b"\xff\xf8", raw[pos:])]


def test_streamed_flac_declaring_zero_total_samples_loads_fully(tmp_path):
    n, sr = 20000, 16000
    good = tmp_path / "good.flac"
    sf.write(good, _stereo(n)[:, 0], sr, format="FLAC", subtype="PCM_16")
    raw = bytearray(good.read_bytes())
    at = _flac_total_samples_offset(raw)
    assert ((raw[at] & 0x0F) << 32) | int.from_bytes(raw[at + 1:at + 5], "big") == n
    raw[at] &= 0xF0                                            # keep sample rate / bps bits
    raw[at + 1:at + 5] = bytes(4)                              # total samples: 0 = unknown
    streamed = tmp_path / "streamed.flac"
    streamed.write_bytes(bytes(raw))
    assert sf.info(streamed).frames != n                       # libsndfile believes the header
    expected, _ = dsp.load(good)
    y, _ = _load_quietly(streamed)
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(_load_quietly(streamed, offset=0.5, duration=0.25)[0],
                                  expected[8000:12000])
    info = dsp.io.info(streamed)
    assert (info.frames, info.declared_frames, info.duration) == (n, None, n / sr)


@pytest.mark.parametrize("fraction", [0.3, 0.55, 0.8])
def test_flac_cut_short_loads_its_complete_frames_and_warns(tmp_path, fraction):
    n, sr, block = 32000, 16000, 4096                          # libsndfile's FLAC block size
    good = tmp_path / "good.flac"
    sf.write(good, _stereo(n)[:, 1], sr, format="FLAC", subtype="PCM_16")
    raw = good.read_bytes()
    starts = _flac_frame_starts(raw)
    assert len(starts) == math.ceil(n / block)                 # no false sync code in the data
    cut = int(len(raw) * fraction)
    complete = sum(1 for s in starts[1:] + [len(raw)] if s <= cut)   # frames ending by the cut
    path = tmp_path / "cut.flac"
    path.write_bytes(raw[:cut])
    expected, _ = dsp.load(good)
    with pytest.warns(AudioTruncatedWarning, match=re.escape(str(path))):
        y, _ = dsp.load(path)
    assert len(y) == complete * block
    np.testing.assert_array_equal(y, expected[:len(y)])
    info = dsp.io.info(path)
    assert (info.frames, info.declared_frames) == (len(y), n)


@pytest.mark.parametrize("fraction", [0.85, 0.97])      # 0.97: inside Ogg's last (end) page
@pytest.mark.parametrize("fmt, subtype", [("MP3", "MPEG_LAYER_III"), ("OGG", "VORBIS")])
def test_compressed_file_cut_short_loads_what_decodes_and_warns(tmp_path, fmt, subtype,
                                                                 fraction):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    n, sr = 32000, 16000
    good = tmp_path / f"good.{fmt.lower()}"
    sf.write(good, _stereo(n)[:, 1], sr, format=fmt, subtype=subtype)   # noise: many pages
    raw = good.read_bytes()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(raw[:int(fraction * len(raw))])
    expected, _ = _load_quietly(good)
    assert len(expected) == n
    with pytest.warns(AudioTruncatedWarning, match=re.escape(str(path))) as caught:
        y, _ = dsp.load(path)
    assert 0 < len(y) < n
    np.testing.assert_array_equal(y, expected[:len(y)])        # the decoded prefix, unchanged
    assert f"{len(y)}" in str(caught[0].message)
    assert dsp.io.info(path).frames == len(y)


# ------------------------------------------------------------------------------ resample

@settings(max_examples=20, deadline=None)
@given(rates=st.sampled_from([(8000, 16000), (16000, 8000), (44100, 16000), (48000, 16000), (16000, 22050),
                              (22050, 44100)]),
       freq_frac=st.floats(0.02, 0.3), seconds=st.floats(0.25, 0.6))
def test_resample_keeps_frequency_and_length_ratio(rates, freq_frac, seconds, make_tone, peak_frequency):
    orig_sr, target_sr = rates
    freq = freq_frac * min(orig_sr, target_sr)  # below both Nyquist limits
    n = int(seconds * orig_sr)
    y = make_tone(freq, orig_sr, n)
    y_hat = dsp.resample(y, orig_sr, target_sr)
    assert y_hat.dtype == np.float32
    assert y_hat.shape == (math.ceil(n * target_sr / orig_sr),)
    assert peak_frequency(y_hat, target_sr) == pytest.approx(freq, rel=2e-3)
    # Amplitude (sqrt(2) * RMS of the middle half, away from filter transients) is preserved.
    m = len(y_hat) // 4
    assert np.sqrt(2 * np.mean(y_hat[m:-m].astype(np.float64) ** 2)) == pytest.approx(0.5, rel=0.02)


def test_resample_batch_and_identity(speech_like):
    Y = speech_like(3, 4410, sr=44100)
    batch = dsp.resample(Y, 44100, 16000)
    for i in range(3):
        np.testing.assert_allclose(batch[i], dsp.resample(Y[i], 44100, 16000), atol=1e-6)
    assert dsp.resample(Y, 16000, 16000) is Y


# ------------------------------------------------------------------------------ fix_length

def test_fix_length_pads_with_zeros_or_trims():
    y = np.arange(1.0, 6.0, dtype=np.float32)
    np.testing.assert_array_equal(dsp.fix_length(y, 8), [1, 2, 3, 4, 5, 0, 0, 0])
    np.testing.assert_array_equal(dsp.fix_length(y, 3), [1, 2, 3])
    Y = np.ones((2, 4), np.float32)
    assert dsp.fix_length(Y, 6).shape == (2, 6) and dsp.fix_length(Y, 6).dtype == np.float32
    assert dsp.fix_length(Y, 3, axis=0).shape == (3, 4)
    np.testing.assert_array_equal(dsp.fix_length(y, 7, mode="edge")[-2:], [5, 5])


def test_float_samples_far_outside_unit_range_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "huge.wav"
    y = np.full(1600, 1e30, dtype=np.float32)
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(dsp.AudioLoadError, match=r"huge\.wav: samples reach 1e\+30, far outside"):
        dsp.load(path)
    sf.write(path, np.full(1600, 4.0, dtype=np.float32), 16000, subtype="FLOAT")
    assert dsp.load(path)[0].max() == 4.0              # loud but usable: read as is
