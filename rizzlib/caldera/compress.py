"""Whole-model compression of a Hugging Face causal LM, block by block, plus save/load and LoRA on L, R.

Calibration: forward hooks on every linear of every decoder block collect H = E[x x^T] (float64)
from the **original** model in one pass. Each linear (q, k, v, o, gate, up, down or the model's
equivalents) is then replaced by a :class:`~rizzlib.caldera.module.CalderaLinear` (or, for the
scalar baselines, by a dense linear holding the fake-quantized weight). Embeddings, norms and
lm_head are left alone.

LoRA: our own loop over the modules' ``l_ft`` / ``r_ft`` parameters rather than peft: peft adds new
adapters beside an ``nn.Linear``, while CALDERA's LoRA directions *are* the top ``ft_rank`` columns of
L and rows of R, initialised from their quantized values and already inside our module.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from rizzlib.caldera.bits import BitBudget, matrix_bits
from rizzlib.caldera.codebooks import ScalarGrid
from rizzlib.caldera.decompose import CalderaConfig, caldera
from rizzlib.caldera.ldlq import damp_hessian, ldlq, nearest_rounding
from rizzlib.caldera.module import LAYOUT_VERSION, CalderaLinear
from rizzlib.caldera.storage import file_tensors, memory_tensors
from rizzlib.core.validate import check_choice, check_int_range, check_range

METHODS = ("rtn", "gptq", "caldera")


def decoder_blocks(model: nn.Module) -> list[nn.Module]:
    """The list of transformer blocks of a causal LM (Llama-style ``model.model.layers`` or GPT-2's
    ``transformer.h``)."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return list(obj)
    raise ValueError("model must be a causal LM with decoder blocks at model.layers or transformer.h")


def _is_conv1d(mod: nn.Module) -> bool:
    """GPT-2's ``Conv1D``: a linear layer whose weight is stored (in, out)."""
    return type(mod).__name__ == "Conv1D" and hasattr(mod, "nf") and getattr(mod, "weight", None) is not None


def block_linears(block: nn.Module) -> dict[str, nn.Module]:
    """Every linear layer inside one block, by dotted name (``self_attn.q_proj``, ``mlp.down_proj``...):
    each ``nn.Linear``, and GPT-2's ``Conv1D`` (``attn.c_attn``, ``mlp.c_fc``...)."""
    return {name: mod for name, mod in block.named_modules() if isinstance(mod, nn.Linear) or _is_conv1d(mod)}


def linear_weight(lin: nn.Module) -> torch.Tensor:
    """The (out, in) weight of a linear layer from :func:`block_linears` (Conv1D's transposed)."""
    return lin.weight.detach().T if _is_conv1d(lin) else lin.weight.detach()


@torch.no_grad()
def collect_hessians(model: nn.Module, calib: torch.Tensor, batch: int = 8) -> dict[str, torch.Tensor]:
    """H = E[x x^T] (float64) for the input of every block linear, keyed ``"{block}.{name}"``, from
    one pass of ``model`` over calibration windows ``calib`` (N, ctx)."""
    check_int_range("batch", batch, 1, None)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    hooks = []
    for bi, block in enumerate(decoder_blocks(model)):
        for name, lin in block_linears(block).items():
            key = f"{bi}.{name}"

            def hook(_mod, inp, _out, key=key):
                x = inp[0].detach().reshape(-1, inp[0].shape[-1]).double()
                sums[key] = sums.get(key, 0) + x.T @ x
                counts[key] = counts.get(key, 0) + x.shape[0]

            hooks.append(lin.register_forward_hook(hook))
    try:
        model.eval()
        for i in range(0, calib.shape[0], batch):
            model(input_ids=calib[i : i + batch])
    finally:
        for h in hooks:
            h.remove()
    return {k: sums[k] / counts[k] for k in sums}


def _set_child(parent: nn.Module, dotted: str, new: nn.Module) -> None:
    *path, last = dotted.split(".")
    for p in path:
        parent = getattr(parent, p)
    setattr(parent, last, new)


def _row_scaled(w: torch.Tensor, method: str, h: torch.Tensor, cb: ScalarGrid) -> torch.Tensor:
    """RTN (``method="rtn"``) or GPTQ (LDLQ, g = 1) of W with one scale per output row, as both store.

    Rows are independent under both (feedback runs along columns), so scaling each row before
    quantizing equals quantizing with a per-row scale.
    """
    rms = w.double().square().mean(1, keepdim=True).sqrt().clamp_min(1e-12)
    x = (w.double() / rms * cb.opt_scale).float()
    q = nearest_rounding(x, cb, scale=1.0).w_hat if method == "rtn" else ldlq(x, h, cb, g=1, scale=1.0).w_hat
    return (q.double() * rms / cb.opt_scale).float()


@dataclasses.dataclass
class LayerReport:
    name: str
    shape: tuple[int, int]
    bits: float
    seconds: float
    error: float
    bits_before_ft: float
    """Bits before LoRA: the ft directions still equal their quantized values, stored as codes."""


def compress_model(
    model: nn.Module,
    hessians: dict[str, torch.Tensor],
    method: str = "caldera",
    cfg: CalderaConfig | Callable[[str, tuple[int, int]], CalderaConfig] | None = None,
    bits: int = 2,
    progress: bool = False,
    blocks: tuple[int, ...] | None = None,
) -> list[LayerReport]:
    """Replace every block linear of ``model`` in place; returns one report per layer.

    ``method``: ``"rtn"`` (per-row round-to-nearest scalar grid of ``bits``), ``"gptq"`` (LDLQ with a
    scalar grid, g = 1, per-row scales: GPTQ), ``"caldera"`` (``cfg``; rank 0 = QuIP# without FT).
    ``cfg`` is one :class:`CalderaConfig` for every matrix, or a function of the layer's key
    (``"0.mlp.down_proj"``) and shape (out, in) returning that matrix's own config: per-matrix ranks
    and bit widths.
    ``blocks``: indices of the decoder blocks to compress (default: all).
    """
    check_choice("method", method, METHODS)
    if method == "caldera" and cfg is None:
        raise ValueError("cfg must be a CalderaConfig (or a function giving one per layer) when method='caldera'")
    reports = []
    all_blocks = decoder_blocks(model)
    chosen = range(len(all_blocks)) if blocks is None else blocks
    for bi in chosen:
        check_int_range("blocks[i]", bi, 0, len(all_blocks) - 1)
    items = [(bi, name, lin) for bi in chosen for name, lin in block_linears(all_blocks[bi]).items()]
    cfgs = {}
    for bi, name, lin in items:  # every key and config checked before any layer is replaced
        key = f"{bi}.{name}"
        if key not in hessians:
            raise ValueError(f"hessians must hold an entry for every block linear; missing {key!r}")
        if method == "caldera":
            c = cfg(key, tuple(linear_weight(lin).shape)) if callable(cfg) else cfg
            if not isinstance(c, CalderaConfig):
                raise ValueError(f"cfg must give a CalderaConfig for every layer; got {type(c).__name__} for {key!r}")
            cfgs[key] = c
    for bi, name, lin in tqdm(items, desc=method, disable=not progress, leave=False):
        key = f"{bi}.{name}"
        w = linear_weight(lin).float()
        m, n = w.shape
        t0 = time.perf_counter()
        h = damp_hessian(hessians[key])
        if method == "caldera":
            c = cfgs[key]
            res = caldera(w, hessians[key], c)
            new = CalderaLinear.from_result(res, None if lin.bias is None else lin.bias.detach())
            err = res.best_error
            b = BitBudget(c.q_bits, c.rank, c.lr_bits, c.lr_bits, c.ft_rank, 16, 1, 4)
            b0 = dataclasses.replace(b, ft_rank=0)
        else:
            cb = ScalarGrid(bits)
            w_hat = _row_scaled(w, method, h, cb)
            new = nn.Linear(n, m, bias=lin.bias is not None)
            with torch.no_grad():
                new.weight.copy_(w_hat)
                if lin.bias is not None:
                    new.bias.copy_(lin.bias)
            e = (w - w_hat).double()
            err = float(torch.einsum("ij,jk,ik->", e, h, e) / torch.einsum("ij,jk,ik->", w.double(), h, w.double())) ** 0.5
            b = b0 = BitBudget(bits, 0, scalars=0)
        extra = 16 * m if method != "caldera" else 0  # fp16 row scales
        bits_total, bits0 = matrix_bits(m, n, b) + extra, matrix_bits(m, n, b0) + extra
        _set_child(decoder_blocks(model)[bi], name, new)
        reports.append(LayerReport(key, (m, n), bits_total / (m * n), time.perf_counter() - t0, err, bits0 / (m * n)))
    return reports


def average_bits_of(reports: list[LayerReport], before_ft: bool = False) -> float:
    """Exact bits per parameter over the compressed layers (``before_ft``: LoRA directions still at
    their quantized bit width, as stored before fine-tuning)."""
    return sum((r.bits_before_ft if before_ft else r.bits) * r.shape[0] * r.shape[1] for r in reports) / sum(
        r.shape[0] * r.shape[1] for r in reports
    )


def save_compressed(model: nn.Module, path: str | Path) -> None:
    """Write the whole (partly compressed) model to one safetensors file; the HF config, each
    CalderaLinear's config and the layout version go in the metadata as JSON.

    Compressed layers are written at exactly the bits :func:`compress_model`'s reports count (codes
    at their widths, signs as bits, LoRA directions in fp16: :mod:`~rizzlib.caldera.storage`);
    everything else (embeddings, norms, lm_head) as it is in memory.
    """
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    layers = {}
    for bi, block in enumerate(decoder_blocks(model)):
        for name, mod in block.named_modules():
            if isinstance(mod, CalderaLinear):
                prefix = _state_prefix(model, mod)
                local = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                stored, signs = file_tensors(local)
                state.update({prefix + k: v.contiguous() for k, v in stored.items()})
                layers[f"{bi}.{name}"] = {"in": mod.in_features, "out": mod.out_features, "bias": mod.bias is not None,
                                          "cfg": dataclasses.asdict(mod.cfg), "prefix": prefix, "signs": signs}  # fmt: skip
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    meta = {"hf_config": model.config.to_json_string(), "layers": json.dumps(layers), "layout_version": str(LAYOUT_VERSION)}
    save_file(state, str(path), metadata=meta)


def _state_prefix(model: nn.Module, target: nn.Module) -> str:
    """The ``state_dict`` key prefix of submodule ``target`` (``"model.layers.0.self_attn.q_proj."``)."""
    for name, mod in model.named_modules():
        if mod is target:
            return name + "."
    raise ValueError("target must be a submodule of model")


def load_compressed(path: str | Path) -> nn.Module:
    """Rebuild the architecture from the saved HF config, swap in empty CalderaLinear modules where
    the file says, widen signs and LoRA directions back to fp32, and load every tensor (strict)."""
    from safetensors import safe_open
    from transformers import AutoConfig, AutoModelForCausalLM

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    if int(meta.get("layout_version", -1)) != LAYOUT_VERSION:
        raise ValueError(f"path holds code layout {meta.get('layout_version')!r}; this rizzlib reads layout {LAYOUT_VERSION}")
    cfg_dict = json.loads(meta["hf_config"])
    hf_cfg = AutoConfig.for_model(cfg_dict.pop("model_type"), **cfg_dict)
    model = AutoModelForCausalLM.from_config(hf_cfg)
    blocks = decoder_blocks(model)
    for key, spec in json.loads(meta["layers"]).items():
        bi, name = key.split(".", 1)
        _set_child(blocks[int(bi)], name, CalderaLinear(spec["in"], spec["out"], CalderaConfig(**spec["cfg"]), spec["bias"]))
        prefix = spec["prefix"]
        local = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        try:
            widened = memory_tensors(local, {"su": spec["in"], "sv": spec["out"]}, spec["signs"])
        except (KeyError, ValueError) as e:
            raise ValueError(f"path does not hold a valid layer {key!r}: {e}") from e
        state.update({prefix + k: v for k, v in widened.items()})
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and getattr(hf_cfg, "tie_word_embeddings", False))]
    if missing or unexpected:
        raise ValueError(f"path does not match the architecture: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.eval()
    return model


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The ``l_ft`` / ``r_ft`` parameters of every CalderaLinear (empty when ft_rank is 0)."""
    return [p for m in model.modules() if isinstance(m, CalderaLinear) for p in (m.l_ft, m.r_ft) if p.numel()]


def finetune_lora(model: nn.Module, tokens: torch.Tensor, ctx: int, steps: int, lr: float = 1e-3, batch: int = 8, seed: int = 0) -> list[float]:
    """Train only L_ft, R_ft (everything else frozen) on next-token loss over random windows of
    ``tokens``; returns the per-step losses. The spec's HF-Trainer recipe uses lr 3e-6 for 3 epochs
    on a 7B model; a byte LM of this size needs a larger step (the default here)."""
    from rizzlib.caldera.data import random_windows

    check_int_range("steps", steps, 1, None)
    check_range("lr", lr, 0.0, 1.0, low_inclusive=False)
    params = lora_parameters(model)
    if not params:
        raise ValueError("model has no LoRA directions: compress with ft_rank > 0")
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.001)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    model.train()
    for _ in range(steps):
        x = random_windows(tokens, ctx, batch, gen)
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses
