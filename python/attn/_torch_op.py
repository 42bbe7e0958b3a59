"""torch.ops.attn.attention: a torch.library custom op (PyTorch >= 2.4) with
a fake kernel, so that attn runs inside torch.compile graphs (the compiler
sees the op's output shape without running it)."""
from typing import Optional

# The schema, written out rather than inferred from the annotations: the
# inference of PyTorch 2.4 rejects str defaults (layout="bhsd"), later
# releases accept them; an explicit schema reads the same in all of them.
SCHEMA = ("(Tensor q, Tensor k, Tensor v, bool causal=False, "
          "int window_left=-1, int window_right=-1, float? scale=None, "
          "float? softcap=None, str layout=\"bhsd\") -> Tensor")

# Why the op is missing, when it is: "" (registered, or no torch), or the
# reason (torch < 2.4, or the registration's exception) for attn.torch_op
# users and the tests.
error = ""


def supported(torch):
    """True when this torch has torch.library.custom_op (>= 2.4)."""
    return hasattr(torch, "library") and hasattr(torch.library, "custom_op")


def register():
    """Registers the op when torch >= 2.4 is importable; returns it or None
    (then `error` says why). Never raises: `import attn` must work with any
    torch."""
    global error
    try:
        import torch
    except ImportError:
        return None
    if not supported(torch):
        error = (f"torch {torch.__version__} has no torch.library.custom_op "
                 "(PyTorch >= 2.4); attn.attention works without it")
        return None
    try:
        return _define(torch)
    except Exception as e:  # noqa: BLE001 - reported, not fatal
        error = (f"registering torch.ops.attn.attention failed on torch "
                 f"{torch.__version__}: {type(e).__name__}: {e}")
        return None


def _define(torch):
    from ._attention import attention

    @torch.library.custom_op("attn::attention", mutates_args=(),
                             schema=SCHEMA)
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
        # [.., Sq, Hq, D] or [.., Hq, Sq, D] (or [B, S, D]) -> the same with
        # v's last dim: what attention() allocates (dense, q's dtype and
        # device).
        return q.new_empty(q.shape[:-1] + v.shape[-1:])

    return attention_op
