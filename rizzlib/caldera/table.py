"""The chapter's whole-model table on the stdlib byte LM, the paper's Llama-2 7B numbers, and verdicts.

Every row uses the same model, calibration windows (Hessians from the fp32 model, once) and
held-out windows: fp32, RTN 2-bit, GPTQ 2-bit, LDLQ + E8P (QuIP# without fine-tuning = CALDERA
rank 0), CALDERA at each preset rank, RHT-FT and then LoRA on L and R at the largest rank, and GPTQ and
LDLQ + E8P-RVQ at the preset's wider Q (3 bits): the other way to spend the bits a rank costs.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from rizzlib.caldera.compress import average_bits_of, collect_hessians, compress_model, finetune_lora
from rizzlib.caldera.data import perplexity, stdlib_corpus, to_tokens, windows
from rizzlib.caldera.lm import load_lm
from rizzlib.caldera.presets import ChapterConfig
from rizzlib.caldera.rht_ft import bits_after_rht_ft, finetune_rht

# Llama-2 7B, WikiText-2 perplexity at context 4096 (spec §1.1 / §1.2; QuIP# rows from the QuIP# paper)
PAPER_LLAMA2_7B = [
    {"method": "fp16", "bits": 16.0, "ppl": 5.12},
    {"method": "2-bit half-integer grid, no E8, no FT (QuIP#)", "bits": 2.0, "ppl": 11.2},
    {"method": "QuIP# no FT (= CALDERA rank 0)", "bits": 2.0, "ppl": 8.22},
    {"method": "CALDERA k=64", "bits": 2.1, "ppl": 7.37},
    {"method": "CALDERA k=128", "bits": 2.2, "ppl": 6.76},
    {"method": "CALDERA k=256", "bits": 2.4, "ppl": 6.19},
    {"method": "CALDERA k=256 + RHT-FT + LoRA", "bits": 2.7, "ppl": 5.55},
]


def chapter_data(cfg: ChapterConfig) -> dict:
    """The model and token windows of a run: the shipped stdlib LM and its corpus split, or (``gpu``)
    ``cfg.model`` by name (``from_pretrained``) with WikiText-2 from ``cfg.dataset``: train text for
    calibration and LoRA, test text held out."""
    if cfg.model == "stdlib":
        base, lm_cfg, _ = load_lm()
        corpus = stdlib_corpus(0)
        ctx, train, calib_t, test_t = lm_cfg.ctx, to_tokens(corpus.train), to_tokens(corpus.calib), to_tokens(corpus.test)
    else:
        from rizzlib.caldera.hf import load_causal_lm, text_tokens, wikitext2_text

        base, tok = load_causal_lm(cfg.model)
        ctx = cfg.ctx
        train = text_tokens(tok, wikitext2_text("train", cfg.dataset))
        test_t = text_tokens(tok, wikitext2_text("test", cfg.dataset))
        calib_t = train
    gen = torch.Generator().manual_seed(0)
    starts = torch.randint(0, calib_t.numel() - ctx, (cfg.calib_windows,), generator=gen) if cfg.model != "stdlib" else None
    calib = windows(calib_t, ctx, cfg.calib_windows) if starts is None else torch.stack([calib_t[s : s + ctx] for s in starts.tolist()])
    test = windows(test_t, ctx, min(cfg.eval_windows, test_t.numel() // ctx))
    return {"model": base, "ctx": ctx, "calib": calib, "test": test, "train": train}


def whole_model_table(cfg: ChapterConfig, data: dict | None = None, progress: bool = False, log=print) -> list[dict]:
    """Rows {method, bits, ppl, seconds, mean_layer_error} at ``cfg``'s sizes (``data`` from
    :func:`chapter_data`, built when omitted)."""
    torch.set_num_threads(cfg.threads)
    data = data or chapter_data(cfg)
    base, ctx, calib, test = data["model"], data["ctx"], data["calib"], data["test"]
    t0 = time.perf_counter()
    hess = collect_hessians(base, calib)
    hess_s = time.perf_counter() - t0
    rows = [{"method": "fp32", "bits": 32.0, "ppl": perplexity(base, test), "seconds": 0.0, "mean_layer_error": 0.0}]

    def add(name, method, ccfg=None, lora=False, bits=2):
        model = copy.deepcopy(base)
        t = time.perf_counter()
        reps = compress_model(model, hess, method, ccfg, bits=bits, progress=progress, blocks=cfg.blocks)
        sec = time.perf_counter() - t + hess_s
        row = {"method": name, "bits": average_bits_of(reps, before_ft=True), "ppl": perplexity(model, test), "seconds": sec,
               "mean_layer_error": sum(r.error for r in reps) / len(reps)}  # fmt: skip
        rows.append(row)
        if log:
            log(f"{name}: {row['bits']:.3f} bits, ppl {row['ppl']:.4f}, {sec:.1f} s")
        signs_ft = False
        if lora and cfg.rht_ft_steps:
            t = time.perf_counter()
            val = calib[: min(16, calib.shape[0])]
            hist = finetune_rht(model, base, data["train"], val, ctx, cfg.rht_ft_steps, cfg.rht_ft_lr)
            sec += time.perf_counter() - t
            signs_ft = True
            name = name + " + RHT-FT"
            rows.append({"method": name, "bits": bits_after_rht_ft(reps, before_ft=True), "ppl": perplexity(model, test), "seconds": sec,
                         "mean_layer_error": float("nan"), "rht_ft_val_first_best": [hist["val"][0][1], min(v for _, v in hist["val"])],
                         "rht_ft_best_step": hist["best_step"]})  # fmt: skip
            if log:
                log(f"{name}: ppl {rows[-1]['ppl']:.4f}")
        if lora and cfg.lora_steps:
            t = time.perf_counter()
            losses = finetune_lora(model, data["train"], ctx, cfg.lora_steps, cfg.lora_lr)
            ft_bits = bits_after_rht_ft(reps) if signs_ft else average_bits_of(reps)  # trained directions count at 16 bits
            rows.append({"method": name + f" + LoRA (top {cfg.ft_rank} directions)", "bits": ft_bits, "ppl": perplexity(model, test),
                         "seconds": sec + time.perf_counter() - t, "mean_layer_error": float("nan"),
                         "lora_loss_first_last": [losses[0], losses[-1]]})  # fmt: skip
            if log:
                log(f"{name} + LoRA: ppl {rows[-1]['ppl']:.4f}")

    add("RTN 2-bit", "rtn")
    add("GPTQ 2-bit", "gptq")
    add("LDLQ + E8P (QuIP#, no FT)", "caldera", cfg.caldera_config(0))
    top = max(cfg.ranks)
    for k in sorted(k for k in cfg.ranks if k > 0):
        add(f"CALDERA k={k}", "caldera", cfg.caldera_config(k), lora=k == top)
    for b in cfg.wide_q_bits:
        add(f"GPTQ {b}-bit", "gptq", bits=b)
        add(f"LDLQ + E8P-RVQ {b}-bit (QuIP#, no FT)", "caldera", cfg.caldera_config(0, q_bits=b))
    return rows


class _TorchUnpack:
    """Stands in for optimum-quanto's C++ ``unpack`` (b-bit values packed in uint8, value i of a byte
    at bits b*i..b*i+b-1, the unpacked chunks concatenated along dim 0): the same values, in torch."""

    @staticmethod
    def unpack(packed: torch.Tensor, bits: int) -> torch.Tensor:
        mask = (1 << bits) - 1
        return torch.cat([(packed >> (bits * i)) & mask for i in range(8 // bits)]).to(torch.uint8)


def quanto_unpack_backend() -> str:
    """Make optimum-quanto's CPU ``unpack`` usable without a build; returns ``"c++"`` or ``"torch"``.

    quanto compiles its C++ unpack extension with ninja the first time a packed int2/int4 weight is
    used on the CPU (six minutes on our 2 busy cores, once per install). When that build is not there
    yet, we hand quanto :class:`_TorchUnpack` instead (same values; tested against the built
    extension), so a fresh install runs the peer rows in seconds.
    """
    from optimum.quanto.library.extensions import get_extension

    ext = get_extension("quanto_cpp")
    if isinstance(ext._lib, type) and ext._lib is _TorchUnpack:
        return "torch"
    version = Path(ext.build_directory) / "pytorch_version.txt"
    built = version.is_file() and version.read_text().strip() == torch.__version__ and any(Path(ext.build_directory).glob("quanto_cpp*.so"))
    if ext._lib is None and not built:
        ext._lib = _TorchUnpack  # quanto loads its extension lazily through this attribute
        return "torch"
    return "c++"


def quanto_rows(cfg: ChapterConfig, data: dict | None = None, bits: tuple[int, ...] = (2, 4)) -> list[dict]:
    """The peer a user would pick instead: ``optimum-quanto`` weight-only int2/int4 (affine, groups of
    128 along the input, data-free) on the same decoder-block linears, same held-out windows.

    Bits are counted from what quanto stores: b per weight plus a scale and a shift per group, in the
    model's dtype (fp32 here). Seconds are quantize + freeze (no calibration to collect).
    """
    from optimum.quanto import freeze, qint2, qint4, quantize

    from rizzlib.caldera.compress import block_linears, decoder_blocks

    torch.set_num_threads(cfg.threads)
    backend = quanto_unpack_backend()
    data = data or chapter_data(cfg)
    qtypes = {2: qint2, 4: qint4}
    rows = []
    for b in bits:
        model = copy.deepcopy(data["model"])
        blocks = decoder_blocks(model)
        chosen = [blocks[i] for i in (cfg.blocks if cfg.blocks is not None else range(len(blocks)))]
        t = time.perf_counter()
        for blk in chosen:
            quantize(blk, weights=qtypes[b])
            freeze(blk)
        sec = time.perf_counter() - t
        stored = params = 0
        for blk in chosen:
            for name, lin in block_linears(blk).items():
                if not isinstance(lin, torch.nn.Linear):
                    raise ValueError(f"optimum-quanto quantizes nn.Linear layers only; {name!r} is a {type(lin).__name__}")
                w = lin.weight
                params += w.numel()
                stored += b * w.numel() + (w._scale.numel() + w._shift.numel()) * w._scale.element_size() * 8
        rows.append({"method": f"optimum-quanto int{b} (group 128, no calibration)", "bits": stored / params,
                     "ppl": perplexity(model, data["test"]), "seconds": sec, "mean_layer_error": float("nan"),
                     "unpack": backend})  # fmt: skip
    return rows


def by_paper_fp() -> float:
    """The paper's fp16 Llama-2 7B perplexity."""
    return next(r["ppl"] for r in PAPER_LLAMA2_7B if r["method"] == "fp16")


def rank_rows(rows: list[dict]) -> list[tuple[int, dict]]:
    """The plain CALDERA rows (no RHT-FT, no LoRA) as (rank, row), by rank; rank 0 is LDLQ + E8P."""
    out = [(0, r) for r in rows if r["method"] == "LDLQ + E8P (QuIP#, no FT)"]
    for r in rows:
        name = r["method"]
        if name.startswith("CALDERA k=") and "LoRA" not in name and "RHT-FT" not in name:
            out.append((int(name[len("CALDERA k=") :]), r))
    return sorted(out, key=lambda kr: kr[0])


def _paper_ranks() -> list[tuple[int, float, float]]:
    """(rank, bits, ppl) of the paper's Llama-2 7B rows without fine-tuning, rank 0 first."""
    by = {r["method"]: r for r in PAPER_LLAMA2_7B}
    out = [(0, by["QuIP# no FT (= CALDERA rank 0)"]["bits"], by["QuIP# no FT (= CALDERA rank 0)"]["ppl"])]
    return out + [(int(m[len("CALDERA k=") :]), r["bits"], r["ppl"]) for m, r in by.items() if m.startswith("CALDERA k=") and "+" not in m]


def _per_bit(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Perplexity lowered per extra bit going from (bits, ppl) ``a`` to ``b`` (negative: it rose)."""
    return (a[1] - b[1]) / (b[0] - a[0]) if b[0] != a[0] else float("nan")


def _lower(rate: float) -> str:
    return f"{rate:.3f} lower" if rate >= 0 else f"{-rate:.3f} higher"


def verdicts(rows: list[dict]) -> list[str]:
    """Sentences generated from the numbers: what each rank buys over rank 0 and over the rank before
    it, per extra bit, here and in the paper; what RHT-FT and LoRA add; E8P against GPTQ."""
    by = {r["method"]: r for r in rows}
    base = by.get("LDLQ + E8P (QuIP#, no FT)")
    fp = by["fp32"]
    out = []
    if base is None:
        return out
    gap0 = base["ppl"] - fp["ppl"]
    ours = rank_rows(rows)
    paper = _paper_ranks()
    p_gap0 = paper[0][2] - by_paper_fp()
    for i, (_, r) in enumerate(ours[1:], start=1):
        gain = base["ppl"] - r["ppl"]
        extra = r["bits"] - base["bits"]
        pk, pb, pp = paper[min(i, len(paper) - 1)]
        ref = (
            f"in the paper k={pk} closed {(paper[0][2] - pp) / p_gap0:.0%} of Llama-2 7B's gap ({paper[0][2]:.2f} to {pp:.2f}, "
            f"fp16 {by_paper_fp():.2f}) for about {pb - paper[0][1]:.1f} bits."
        )
        if gain > 0 and gap0 > 0:
            head = f"{r['method']} closes {gain / gap0:.0%} of the gap between rank 0 ({base['ppl']:.3f}) and fp32 ({fp['ppl']:.3f})"
        else:
            head = f"{r['method']} does not improve on rank 0 ({r['ppl']:.3f} vs {base['ppl']:.3f}; fp32 {fp['ppl']:.3f})"
        out.append(f"{head} for {extra:.3f} extra bits per weight; {ref}")
    for i in range(2, len(ours)):
        (ka, ra), (kb, rb), (kp, rp) = ours[i - 1], ours[i], ours[i - 2]
        step = _per_bit((ra["bits"], ra["ppl"]), (rb["bits"], rb["ppl"]))
        before = _per_bit((rp["bits"], rp["ppl"]), (ra["bits"], ra["ppl"]))
        if step <= 0:
            trend = "the larger rank does not pay for its bits at all"
        elif before <= 0:
            trend = "the larger rank pays where the smaller did not"
        else:
            trend = "the returns diminish" if step < before else "the returns grow"
        sent = (
            f"Going from k={ka} to k={kb} costs {rb['bits'] - ra['bits']:.3f} more bits per weight and moves perplexity from "
            f"{ra['ppl']:.3f} to {rb['ppl']:.3f}: {_lower(step)} per extra bit, against {_lower(before)} from k={kp} to k={ka}, so {trend}."
        )
        if i < len(paper):
            (pka, pba, ppa), (pkb, pbb, ppb), (_, pbp, ppp) = paper[i - 1], paper[i], paper[i - 2]
            sent += (
                f" In the paper (Llama-2 7B), k={pka} to k={pkb} bought {_per_bit((pba, ppa), (pbb, ppb)):.1f} per extra bit, "
                f"against {_per_bit((pbp, ppp), (pba, ppa)):.1f} for the step before."
            )
        out.append(sent)
    for r in rows:
        if r["method"].endswith(" + RHT-FT"):
            src = by[r["method"][: -len(" + RHT-FT")]]
            word = "lowers" if r["ppl"] < src["ppl"] else "does not lower"
            out.append(
                f"Fine-tuning the Hadamard signs (RHT-FT, distilling the fp32 model) {word} perplexity from {src['ppl']:.3f} "
                f"to {r['ppl']:.3f}, for {r['bits'] - src['bits']:.3f} extra bits per weight (the signs stored in 16 bits)."
            )
    lora = [r for r in rows if "LoRA" in r["method"]]
    if lora:
        r = lora[0]
        src = by[r["method"].split(" + LoRA")[0]]
        word = "lowers" if r["ppl"] < src["ppl"] else "does not lower"
        out.append(
            f"LoRA on L and R {word} perplexity from {src['ppl']:.3f} to {r['ppl']:.3f}, at {r['bits']:.3f} bits "
            f"once its directions are stored in 16 bits; the paper's {PAPER_LLAMA2_7B[-1]['method']} reached "
            f"{PAPER_LLAMA2_7B[-1]['ppl']:.2f} at {PAPER_LLAMA2_7B[-1]['bits']:g} bits."
        )
    gptq, rtn = by.get("GPTQ 2-bit"), by.get("RTN 2-bit")
    if gptq and rtn:
        better = "lower" if base["ppl"] < gptq["ppl"] else "higher"
        out.append(
            f"LDLQ with E8P after the Hadamard transform gives {better} perplexity than GPTQ's scalar 2-bit grid "
            f"({base['ppl']:.3f} vs {gptq['ppl']:.3f}; RTN {rtn['ppl']:.3f})."
        )
    return out


def peer_verdicts(rows: list[dict], peer_rows: list[dict]) -> list[str]:
    """Sentences comparing the peer library's rows with ours at nearby bit widths."""
    by = {r["method"]: r for r in rows}
    q0 = by.get("LDLQ + E8P (QuIP#, no FT)")
    out = []
    for p in peer_rows:
        if q0 is None:
            break
        word = "lower" if q0["ppl"] < p["ppl"] else "higher"
        out.append(
            f"{p['method']}: perplexity {p['ppl']:.3f} at {p['bits']:.2f} bits; LDLQ + E8P has {word} perplexity "
            f"({q0['ppl']:.3f}) at {q0['bits']:.2f} bits."
        )
    return out


def _beats(o: dict, r: dict) -> bool:
    """Row ``o`` beats ``r``: no more bits and no higher perplexity, and better in one of them."""
    return o["bits"] <= r["bits"] and o["ppl"] <= r["ppl"] and (o["bits"] < r["bits"] or o["ppl"] < r["ppl"])


def frontier(rows: list[dict]) -> list[dict]:
    """The compressed rows (bits < 32) that no other row beats (:func:`_beats`), sorted by bits."""
    cands = [r for r in rows if r["bits"] < 32]
    keep = [r for r in cands if not any(_beats(o, r) for o in cands)]
    return sorted(keep, key=lambda r: (r["bits"], r["ppl"]))


def frontier_verdicts(rows: list[dict]) -> list[str]:
    """Where each CALDERA row stands among all rows (ours and the peer's): on the bits-perplexity
    frontier, or beaten by another row (the one with the fewest bits is named)."""
    front = frontier(rows)
    out = ["The rows that no other row beats (as low a perplexity with fewer bits, or a lower one with as few): " + "; ".join(
        f"{r['method']} ({r['bits']:.3f} bits, {r['ppl']:.3f})" for r in front) + "."]  # fmt: skip
    plain = [r for _, r in rank_rows(rows) if r["method"].startswith("CALDERA")]
    for r in [r for r in rows if r["method"].startswith("CALDERA")]:
        if any(f is r for f in front):
            out.append(f"{r['method']} ({r['bits']:.3f} bits, {r['ppl']:.3f}) is on that frontier.")
            continue
        beat = min((o for o in rows if o["bits"] < 32 and _beats(o, r)), key=lambda o: (o["bits"], o["ppl"]))
        out.append(
            f"{r['method']} ({r['bits']:.3f} bits, {r['ppl']:.3f}) is beaten by {beat['method']} "
            f"({beat['bits']:.3f} bits, {beat['ppl']:.3f})."
        )
    if plain:
        on = [r["method"] for r in plain if any(f is r for f in front)]
        out.append(
            "So on this model no rank of CALDERA without fine-tuning is worth its bits: another row does at least as well "
            "with fewer bits, or better with as few."
            if not on
            else f"So on this model {' and '.join(on)} {'is' if len(on) == 1 else 'are'} worth {'its' if len(on) == 1 else 'their'} "
            "bits without fine-tuning: no other row does as well with fewer bits, or better with as few."
        )
    return out
