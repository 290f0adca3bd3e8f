"""soundfile for tests that write or inspect audio files with it: a module that needs it is
skipped, with the reason, where soundfile cannot be loaded (not installed, or its libsndfile
missing), instead of failing the whole collection."""

import pytest


def soundfile_or_none():
    """The soundfile module, or None where it cannot be loaded."""
    try:
        import soundfile
    except (ImportError, OSError):
        return None
    return soundfile


def soundfile_or_skip():
    """The soundfile module; skips the calling test module (or test) where it cannot be
    loaded."""
    module = soundfile_or_none()
    if module is None:
        pytest.skip("soundfile cannot be loaded (not installed, or no libsndfile)",
                    allow_module_level=True)
    return module
