"""torch.ops.attn.attention (PyTorch >= 2.4): eager, and under torch.compile
through the fake kernel. Debian's PyTorch 1.13 skips these; the GPU
machine's 2.11 runs them."""
import pytest

import attn
from conftest import make, torch

pytestmark = pytest.mark.skipif(
    torch is None or attn.torch_op is None,
    reason="torch.library.custom_op needs PyTorch >= 2.4")


def test_custom_op_eager_and_compiled(device):
    dtype = "float32" if device == "cpu" else "bfloat16"
    q = make((1, 4, 33, 64), dtype, device, "torch", 1)
    k = make((1, 2, 33, 64), dtype, device, "torch", 2)
    v = make((1, 2, 33, 64), dtype, device, "torch", 3)
    expected = attn.attention(q, k, v, causal=True)
    eager = torch.ops.attn.attention(q, k, v, True)
    assert torch.equal(eager, expected)

    def f(q, k, v):
        return torch.ops.attn.attention(q * 1.0, k, v, True) + 0.0
    # aot_eager traces the graph with fake tensors (the fake kernel gives
    # the shape) and runs the real op; no C++ compiler needed.
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    assert torch.equal(compiled(q, k, v), expected)
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode() as mode:
        fq, fk, fv = (mode.from_tensor(x) for x in (q, k, v))
        fake = torch.ops.attn.attention(fq, fk, fv, True)
    assert fake.shape == expected.shape and fake.dtype == expected.dtype
