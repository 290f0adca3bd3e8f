"""Speed of the recurrent layers (float32): forward and forward+backward wall time.

Run::

    .venv/bin/python benchmarks/bench_recurrent.py            # all three cases
    .venv/bin/python benchmarks/bench_recurrent.py --repeats 5 --only bilstm

Cases (batch 32, the papers' shapes):

- ``bilstm``: the first paper's BiLSTM, input (32, 47, 64), hidden 128 per direction
  (target on 2 cores: forward+backward under 60 ms);
- ``lstm4096``: the second paper's LSTM, 128 units on (32, 300, 4096), ``bias='single'``;
- ``gru768``: the second paper's GRU, 128 units on (32, 75, 768).

The input requires a gradient (as it does inside the models, where it comes from a CNN or a
dense layer), so "forward+backward" includes dL/dx. Each figure is the median of ``--repeats``
runs after one warm-up run; the machine may be shared, so the minimum is printed too.

Side by side with PyTorch (``pip install -e ".[bench]"``; without it ours only, and a line
saying the peer is missing): the same layer in PyTorch with our weights (``nn.LSTM``,
``nn.GRU``, and ``torch_twins.KerasLSTM`` for the single bias), on 2 threads, timed
alternately with ours; the ratio is **time ours / time PyTorch** of the minima (below 1: ours
faster).
"""

from __future__ import annotations

import argparse

import numpy as np

from minitorch_ser.nn.recurrent import GRU, LSTM
from minitorch_ser.autograd.tensor import Tensor, no_grad

import side_by_side as peers

CASES = {
    "bilstm": dict(layer=LSTM, shape=(32, 47, 64), hidden=128, kwargs=dict(bidirectional=True)),
    "lstm4096": dict(layer=LSTM, shape=(32, 300, 4096), hidden=128, kwargs=dict(bias="single")),
    "gru768": dict(layer=GRU, shape=(32, 75, 768), hidden=128, kwargs=dict()),
}


def _ms(times: list) -> tuple[float, float]:
    """(median, min) in ms of a list of one-part rounds from ``peers.alternate``."""
    ms = [1e3 * t[0] for t in times]
    return float(np.median(ms)), float(np.min(ms))


def _peer_layer(torch, name: str, ours):
    """The PyTorch layer of case ``name`` with the weights of ``ours``."""
    spec = CASES[name]
    F, H = spec["shape"][2], spec["hidden"]
    if spec["kwargs"].get("bias") == "single":
        from torch_twins import KerasLSTM
        layer = KerasLSTM(F, H)
    else:
        cls = torch.nn.LSTM if spec["layer"] is LSTM else torch.nn.GRU
        layer = cls(F, H, batch_first=True, **spec["kwargs"])
    layer.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()},
                          strict=True)
    return layer


def bench_case(name: str, repeats: int, torch=None) -> dict:
    """Forward and forward+backward of case ``name``, ours (and PyTorch's, alternately)."""
    spec = CASES[name]
    rng = np.random.default_rng(0)
    layer = spec["layer"](spec["shape"][2], spec["hidden"], batch_first=True, rng=rng,
                          **spec["kwargs"])
    data = rng.standard_normal(spec["shape"]).astype(np.float32)
    x = Tensor(data, requires_grad=True)

    def forward_only():
        with no_grad():
            layer(x)

    def forward_backward():
        layer.zero_grad()
        x.grad = None
        out = layer(x)
        output, h_n = out[0], out[1] if spec["layer"] is GRU else out[1][0]
        loss = output.sum() + h_n.sum()
        loss.backward()

    runs = {"ours": (forward_only, forward_backward)}
    if torch is not None:
        peer = _peer_layer(torch, name, layer)
        xt = torch.from_numpy(data).requires_grad_(True)

        def peer_forward_only():
            with torch.no_grad():
                peer(xt)

        def peer_forward_backward():
            peer.zero_grad()
            xt.grad = None
            output, state = peer(xt)
            h_n = state if spec["layer"] is GRU else state[0]
            (output.sum() + h_n.sum()).backward()

        runs["PyTorch"] = (peer_forward_only, peer_forward_backward)
    fwd = peers.alternate({k: peers.wall(f) for k, (f, _) in runs.items()}, repeats)
    both = peers.alternate({k: peers.wall(fb) for k, (_, fb) in runs.items()}, repeats)
    return {"case": name, "shape": spec["shape"], "hidden": spec["hidden"],
            "forward": {k: _ms(v) for k, v in fwd.items()},
            "forward_backward": {k: _ms(v) for k, v in both.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=sorted(CASES), action="append",
                        help="run only this case (may be repeated)")
    parser.add_argument("--peer", choices=["auto", "none"], default="auto",
                        help="time PyTorch beside ours when it is installed (auto), or not")
    args = parser.parse_args()
    torch = peers.torch_peer() if args.peer == "auto" else None
    print(peers.machine_line(torch))
    if args.peer == "auto" and torch is None:
        print(peers.missing("PyTorch"))
    elif torch is not None:
        print("ours and PyTorch's alternately; ratio = min time ours / min time PyTorch")
    for name in args.only or list(CASES):
        r = bench_case(name, args.repeats, torch)
        for who in r["forward"]:
            fwd_med, fwd_min = r["forward"][who]
            fb_med, fb_min = r["forward_backward"][who]
            print(f"{r['case']:9s} x{r['shape']} H={r['hidden']} {who:>7}: forward "
                  f"{fwd_med:8.1f} ms (min {fwd_min:8.1f}), forward+backward {fb_med:8.1f} ms "
                  f"(min {fb_min:8.1f})")
        if torch is not None:
            print(f"{'':>38} ratio: forward "
                  f"{peers.ratio(r['forward']['ours'][1], r['forward']['PyTorch'][1]):.2f}, "
                  f"forward+backward "
                  f"{peers.ratio(r['forward_backward']['ours'][1], r['forward_backward']['PyTorch'][1]):.2f}")


if __name__ == "__main__":
    main()
