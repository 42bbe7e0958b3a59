"""torch.ops.attn.attention: a torch.library custom op (PyTorch >= 2.4) with
a fake kernel, so that attn runs inside torch.compile graphs (the compiler
sees the op's output shape without running it)."""
from typing import Optional


def register():
    """Registers the op when torch >= 2.4 is importable; returns it or None."""
    try:
        import torch
    except ImportError:
        return None
    if not hasattr(torch, "library") or not hasattr(torch.library,
                                                    "custom_op"):
        return None  # torch < 2.4 (Debian 12 has 1.13): attn.attention only
    from ._attention import attention

    @torch.library.custom_op("attn::attention", mutates_args=())
    def attention_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                     causal: bool = False, window_left: int = -1,
                     window_right: int = -1, scale: Optional[float] = None,
                     softcap: Optional[float] = None,
                     layout: str = "bhsd") -> torch.Tensor:
        window = None
        if window_left >= 0 or window_right >= 0:
            window = (window_left, window_right)
        return attention(q, k, v, causal=causal, window=window, scale=scale,
                         softcap=softcap, layout=layout)

    @attention_op.register_fake
    def _(q, k, v, causal=False, window_left=-1, window_right=-1, scale=None,
          softcap=None, layout="bhsd"):
        return q.new_empty(q.shape[:-1] + v.shape[-1:])

    return attention_op
