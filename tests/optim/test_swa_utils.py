"""AveragedModel: the moving average of the weights against its equation, step by step in
float64 (a loop oracle over the updates), buffers, errors, and evaluation through it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minitorch_ser import nn
from minitorch_ser.autograd.random import manual_seed
from minitorch_ser.autograd.tensor import Tensor
from minitorch_ser.optim import AveragedModel


def small_net(dtype=np.float64):
    manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    for p in net.parameters():
        p.data = p.data.astype(dtype)
    for mod in net.modules():
        for name, b in list(mod._buffers.items()):
            if b is not None and np.issubdtype(b.dtype, np.floating):
                mod._buffers[name] = b.astype(dtype)
    return net


def oracle(snapshots, decay, warmup):
    """The module docstring's equation, one update at a time."""
    avg = None
    for n, w in enumerate(snapshots):
        if avg is None:
            avg = {k: v.copy() for k, v in w.items()}
            continue
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        avg = {k: d * avg[k] + (1 - d) * w[k] for k in avg}
    return avg


@settings(max_examples=25, deadline=None)
@given(decay=st.floats(0.0, 0.999), warmup=st.booleans(), steps=st.integers(1, 30),
       seed=st.integers(0, 10_000))
def test_the_average_follows_its_equation_for_every_weight_and_float_buffer(decay, warmup,
                                                                           steps, seed):
    net = small_net()
    avg = AveragedModel(net, decay=decay, warmup=warmup)
    rng = np.random.default_rng(seed)
    snapshots = []
    for _ in range(steps):
        for p in net.parameters():                   # a stand-in for an optimizer step
            p.data += rng.normal(size=p.data.shape)
        for mod in net.modules():
            for name, b in list(mod._buffers.items()):
                if b is not None and np.issubdtype(b.dtype, np.floating):
                    mod._buffers[name] = b + rng.normal(size=b.shape)
                elif b is not None:
                    mod._buffers[name] = b + 1
        snapshots.append({k: np.array(v, dtype=np.float64)
                          for k, v in net.state_dict().items()})
        avg.update_parameters(net)
    expected = oracle(snapshots, decay, warmup)
    got = avg.module.state_dict()
    assert avg.n_averaged == steps
    for key, value in got.items():
        if key.endswith("num_batches_tracked"):      # integer buffers are copied
            np.testing.assert_array_equal(value, snapshots[-1][key], err_msg=key)
        else:
            np.testing.assert_allclose(value, expected[key], rtol=1e-12, atol=1e-12,
                                       err_msg=key)


def test_the_first_update_copies_and_training_weights_are_untouched():
    net = small_net()
    avg = AveragedModel(net, decay=0.9)
    before = net.state_dict()
    for p in net.parameters():
        p.data += 1.0
    avg.update_parameters(net)
    for key, value in avg.module.state_dict().items():
        np.testing.assert_array_equal(value, net.state_dict()[key])
    for p in net.parameters():
        p.data += 1.0
    avg.update_parameters(net)                        # d_1 = min(0.9, 2/11)
    d = 2 / 11
    name = "0.weight"
    np.testing.assert_allclose(avg.module.state_dict()[name],
                               d * (before[name] + 1) + (1 - d) * (before[name] + 2),
                               rtol=1e-12)
    np.testing.assert_array_equal(net.state_dict()[name], before[name] + 2)


def test_the_forward_is_the_averaged_copys():
    net = small_net()
    avg = AveragedModel(net, decay=0.5, warmup=False)
    avg.update_parameters(net)
    for p in net.parameters():
        p.data *= 3.0
    avg.update_parameters(net)
    x = Tensor(np.random.default_rng(1).normal(size=(5, 4)))
    avg.eval()
    avg.module.eval()
    np.testing.assert_array_equal(avg(x).data, avg.module(x).data)
    net.eval()
    assert not np.allclose(avg(x).data, net(x).data)
    assert avg.current_decay() == 0.5


@pytest.mark.parametrize("decay", [-0.1, 1.0, 1.5])
def test_decay_outside_its_range_is_refused(decay):
    with pytest.raises(ValueError, match=f"decay={decay} must be in \\[0, 1\\)"):
        AveragedModel(small_net(), decay=decay)


def test_a_different_model_is_refused_by_name_and_shape():
    avg = AveragedModel(small_net(), decay=0.9)
    manual_seed(0)
    with pytest.raises(ValueError, match="parameter names differ"):
        avg.update_parameters(nn.Sequential(nn.Linear(4, 3)))
    wide = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    with pytest.raises(ValueError, match="0.weight has shape"):
        avg.update_parameters(wide)
