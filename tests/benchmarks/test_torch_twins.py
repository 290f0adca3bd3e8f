"""benchmarks/torch_twins.py: the PyTorch twins have our parameter names, shapes and counts,
and compute our logits. Skipped without PyTorch (the optional ``bench`` extra)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from minitorch_ser.autograd.tensor import Tensor, no_grad

try:
    import torch
except ImportError:     # not installed (or unusable): the bench extra is optional
    pytest.skip("PyTorch is not installed (pip install -e \".[bench]\")",
                allow_module_level=True)

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "torch_twins.py"

#: trainable parameters of each model at its default (the papers') sizes; the second paper's
#: tables add the BatchNorms' 768 (Figure 8) and 384 (Figure 9) running statistics
PAPER_COUNTS = {"parallel_mha": 523_620, "parallel_additive": 260_452, "gru": 4_030_982,
                "lstm": 2_803_014 - 768, "lstm_reg": 1_283_334 - 384}


@pytest.fixture(scope="module")
def twins():
    spec = importlib.util.spec_from_file_location("torch_twins", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_twin_has_our_names_shapes_and_parameter_count(twins, name):
    ours = twins.build_ours(name)
    twin = twins.twin_of(ours)                     # loads our state_dict with strict=True
    theirs = twin.state_dict()
    assert list(theirs) == list(ours.state_dict())
    for key, value in ours.state_dict().items():
        assert tuple(theirs[key].shape) == value.shape, key
        np.testing.assert_array_equal(theirs[key].numpy(), value, err_msg=key)
    assert twins.parameter_count(twin) == twins.parameter_count(ours) == PAPER_COUNTS[name]


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_twin_computes_our_logits_in_eval_mode(twins, name):
    # biases and BatchNorm statistics moved away from 0 / 1, so that each one counts
    result = twins.check_twin(twins.randomize_(twins.build_ours(name), seed=1), batch=2, seed=1)
    assert result.ours_parameters == result.twin_parameters
    assert result.max_abs_logit > 0.05, result      # logits that can differ
    assert result.max_abs_logit_diff <= 1e-4, result
    assert result.ok


def test_a_twin_that_computes_something_else_fails_the_tolerance(twins):
    # the check sees a wrong constant: LayerNorm's eps 1e-5 (PyTorch's default) instead of
    # Keras' 1e-3 after Figure 9's attention (its BatchNorms' eps alone moves the logits by
    # only about 1.3e-4, hardly more than the tolerance)
    ours = twins.randomize_(twins.build_ours("lstm_reg"), seed=1).eval()
    twin = twins.twin_of(ours).eval()
    twin.norm.eps = 1e-5
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 300)).astype(np.float32)
    with no_grad():
        expected = ours(Tensor(x)).data
    with torch.no_grad():
        got = twin(torch.from_numpy(x)).numpy()
    assert np.abs(got - expected).max() > 1e-2


def test_twin_of_an_unknown_model_names_the_known_ones(twins):
    from minitorch_ser.nn.linear import Linear

    with pytest.raises(ValueError, match="no PyTorch twin of Linear"):
        twins.twin_of(Linear(2, 2))
