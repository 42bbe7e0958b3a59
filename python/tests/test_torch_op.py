"""torch.ops.attn.attention (PyTorch >= 2.4): eager, under torch.compile
(aot_eager everywhere, inductor on CUDA, dynamic shapes), under
FakeTensorMode, and torch.library.opcheck. Debian's PyTorch 1.13 skips
those (and checks that attn.torch_op is None with a reason); the GPU
machine's 2.11 runs them on CPU and CUDA tensors. With torch >= 2.4 a
registration that failed is a failure, not a skip."""
import pytest

import attn
from attn import _torch_op
from conftest import make, torch

needs_op = pytest.mark.skipif(
    torch is None or not _torch_op.supported(torch),
    reason="torch.library.custom_op needs PyTorch >= 2.4")


def op():
    """The registered op; fails (never skips) when registration failed."""
    if attn.torch_op is None:
        pytest.fail(f"attn.torch_op is None: {_torch_op.error}")
    return torch.ops.attn.attention


def inputs(device, sq=33, skv=33, seed=1):
    dtype = "float32" if device == "cpu" else "bfloat16"
    return (make((1, 4, sq, 64), dtype, device, "torch", seed),
            make((1, 2, skv, 64), dtype, device, "torch", seed + 1),
            make((1, 2, skv, 64), dtype, device, "torch", seed + 2))


@needs_op
def test_custom_op_eager_and_compiled(device):
    q, k, v = inputs(device)
    expected = attn.attention(q, k, v, causal=True)
    assert torch.equal(op()(q, k, v, True), expected)

    def f(q, k, v):
        return torch.ops.attn.attention(q * 1.0, k, v, True) + 0.0
    # aot_eager traces the graph with fake tensors (the fake kernel gives
    # the shape) and runs the real op; no C++ compiler needed.
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    assert torch.equal(compiled(q, k, v), expected)
    if device == "cuda":  # inductor: Triton kernels around the op
        torch._dynamo.reset()
        compiled = torch.compile(f, fullgraph=True)
        got = compiled(q, k, v)
        assert got.shape == expected.shape and got.device == expected.device
        assert torch.equal(got, expected)


@needs_op
def test_custom_op_keywords_and_dynamic_shapes(device):
    def f(q, k, v):
        return torch.ops.attn.attention(q, k, v, causal=True, window_left=7,
                                        window_right=0, softcap=20.0)
    compiled = torch.compile(f, backend="aot_eager", dynamic=True,
                             fullgraph=True)
    for sq, skv in ((17, 40), (29, 52)):  # one graph, symbolic lengths
        q, k, v = inputs(device, sq, skv, seed=sq)
        expected = attn.attention(q, k, v, causal=True, window=(7, 0),
                                  softcap=20.0)
        assert torch.equal(compiled(q, k, v), expected)
    qt, kt, vt = (x.transpose(1, 2) for x in inputs(device))  # bshd views
    got = op()(qt, kt, vt, layout="bshd")
    assert torch.equal(got, attn.attention(qt, kt, vt, layout="bshd"))


@needs_op
def test_custom_op_fake_kernel(device):
    q, k, v = inputs(device)
    expected = attn.attention(q, k, v)
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode() as mode:
        fq, fk, fv = (mode.from_tensor(x) for x in (q, k, v))
        fake = op()(fq, fk, fv)
    assert fake.shape == expected.shape and fake.dtype == expected.dtype
    assert fake.device == expected.device


@needs_op
def test_custom_op_opcheck(device):
    # schema (no mutation, no aliasing), fake vs real metadata, autograd
    # registration, AOT dispatch with dynamic shapes.
    q, k, v = inputs(device)
    op()  # fails with the reason when the op is missing
    torch.library.opcheck(torch.ops.attn.attention.default, (q, k, v, True))


def test_without_custom_op_there_is_a_reason(monkeypatch):
    if torch is None:
        pytest.skip("no PyTorch")
    if not _torch_op.supported(torch):
        assert attn.torch_op is None
        assert "torch.library.custom_op" in _torch_op.error
        return

    def broken(*args, **kwargs):
        raise TypeError("an API this attn does not know")
    monkeypatch.setattr(torch.library, "custom_op", broken)
    saved = _torch_op.error
    try:
        assert _torch_op.register() is None  # never raises
        assert "registering torch.ops.attn.attention failed" in \
            _torch_op.error and "an API this attn" in _torch_op.error
    finally:
        _torch_op.error = saved
