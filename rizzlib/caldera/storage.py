"""On-disk layout of compressed layers: exactly the bits the accounting of :mod:`~rizzlib.caldera.bits` counts.

In memory a :class:`~rizzlib.caldera.module.CalderaLinear` keeps its codes at their exact widths
already; two fields are wider there than the accounting says, for speed and for training, and are
narrowed only in the file:

* the random signs S_U, S_V (fp32 +-1 in memory) become one bit each, packed 8 to a byte (``uint8``,
  bit i of byte j = entry 8 j + i is negative); real-valued (fine-tuned) signs are stored in fp16,
  as the spec's §1.4 counts them;
* the LoRA directions ``l_ft`` / ``r_ft`` (fp32 parameters, so AdamW trains them in fp32) and, with
  16-bit factors (``lr_bits=16``), ``l_frozen`` / ``r_frozen`` are stored in fp16, the 16 bits the
  paper counts them at: saving rounds them once.

:func:`file_tensors` / :func:`memory_tensors` convert one layer's state between the two; each layer's
choice of sign storage goes in the file's metadata.
"""

from __future__ import annotations

import torch

SIGN_KEYS = ("su", "sv")
HALF_KEYS = ("l_ft", "r_ft", "l_frozen", "r_frozen")
"""Float fields stored in fp16 (the last two exist only with 16-bit factors)."""


def is_sign_vector(s: torch.Tensor) -> bool:
    """True when every entry is exactly +1 or -1."""
    return bool(((s == 1) | (s == -1)).all())


def pack_signs(s: torch.Tensor) -> torch.Tensor:
    """+-1 vector (n,) -> uint8 (ceil(n / 8),), bit i of byte j set when entry 8 j + i is -1."""
    if s.dim() != 1 or not is_sign_vector(s):
        raise ValueError("s must be a 1-D vector of exact +-1 entries (fine-tuned signs are stored in fp16)")
    n = s.numel()
    neg = torch.zeros(-(-n // 8) * 8, dtype=torch.int32)
    neg[:n] = (s < 0).to(torch.int32)
    return (neg.view(-1, 8) << torch.arange(8, dtype=torch.int32)).sum(1).to(torch.uint8)


def unpack_signs(packed: torch.Tensor, n: int) -> torch.Tensor:
    """Inverse of :func:`pack_signs`: uint8 (ceil(n / 8),) -> float32 +-1 (n,)."""
    if packed.dtype != torch.uint8 or packed.numel() != -(-n // 8):
        raise ValueError(f"packed must be uint8 of {-(-n // 8)} bytes for n={n}; got {packed.dtype} of {packed.numel()}")
    bits = (packed.to(torch.int32)[:, None] >> torch.arange(8, dtype=torch.int32)) & 1
    return 1.0 - 2.0 * bits.reshape(-1)[:n].float()


def file_tensors(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """One layer's ``state_dict`` -> (tensors to write, sign storage ``"bits"`` or ``"fp16"``)."""
    out = dict(state)
    signs = "bits" if all(is_sign_vector(state[k]) for k in SIGN_KEYS) else "fp16"
    for k in SIGN_KEYS:
        out[k] = pack_signs(state[k]) if signs == "bits" else state[k].half()
    for k in HALF_KEYS:
        if k in state:
            out[k] = state[k].half()
    return out, signs


def memory_tensors(stored: dict[str, torch.Tensor], sizes: dict[str, int], signs: str) -> dict[str, torch.Tensor]:
    """Inverse of :func:`file_tensors`; ``sizes`` gives the length of ``su`` (in) and ``sv`` (out)."""
    if signs not in ("bits", "fp16"):
        raise ValueError(f"signs must be 'bits' or 'fp16'; got {signs!r}")
    out = dict(stored)
    for k in SIGN_KEYS:
        out[k] = unpack_signs(stored[k], sizes[k]) if signs == "bits" else stored[k].float()
    for k in HALF_KEYS:
        if k in stored:
            out[k] = stored[k].float()
    return out
