"""``CalderaLinear``: a drop-in ``nn.Linear`` replacement holding Q codes, scales, L, R and signs.

Forward (spec §4), fp32: x~ = T_n(S_U * x); z = s_Q Dec(Q) x~ + L (R x~) + L_ft (R_ft x~);
y = g * S_V * T_m^T z (+ bias). L and R are stored as codes (B_L, B_R < 16) or as fp32 values
(16-bit factors); the first ``ft_rank`` directions are trainable fp32 parameters (``l_ft``,
``r_ft``) initialised from the quantized values, the rest stay frozen. Every field is a buffer or
parameter, so ``state_dict`` round-trips through safetensors and device/dtype moves touch each
tensor once (the reference repo's device move overwrote RVQ second-stage codes with the first).

Codes are stored one buffer per codebook stage in the narrowest integer that holds them, so the
code buffers hold exactly B bits per weight: ``q_codes`` (m, n/8) int16 (a 16-bit E8P code per 8
weights: 2 bits), and for 3 and 4 bits ``q_codes_res`` (m, n/8), uint8 (the 8-bit index of RVQ3's
second stage: 2 + 1 bits) or int16 (RVQ4's second E8P code: 2 + 2 bits); the same for ``l_codes``
(codes of L^T, (k - ft, m/8)) and ``r_codes`` ((k - ft, n/8)). :mod:`~rizzlib.caldera.storage`
also packs the signs to bits and the LoRA directions to fp16 on disk.
"""

from __future__ import annotations

import torch
from torch import nn

from rizzlib.caldera.codebooks import decode_rows, get_codebook
from rizzlib.caldera.decompose import CalderaConfig, CalderaResult
from rizzlib.caldera.hadamard import rht_input, unrht_output
from rizzlib.caldera.kernels import KERNELS
from rizzlib.core.validate import check_choice

LAYOUT_VERSION = 2  # bump when the code layout changes (quip-sharp #67: silent drift after repacking)
# 1: codes (rows, groups, stages) int16 for every stage, signs fp32, LoRA fp32 on disk
# 2: one buffer per stage in its own width (RVQ3's second stage uint8), signs as bits, LoRA fp16 on disk


def _to_int16(codes: torch.Tensor) -> torch.Tensor:
    """uint16 values in int64 -> int16 with the same bits."""
    c = codes.long() & 0xFFFF
    return torch.where(c >= 32768, c - 65536, c).to(torch.int16)


def stage_dtypes(bits: int) -> tuple[torch.dtype, ...]:
    """Storage dtype of each stage of the lattice codebook of ``bits`` bits (8 weights per code)."""
    return {2: (torch.int16,), 3: (torch.int16, torch.uint8), 4: (torch.int16, torch.int16)}[bits]


def _stage_codes(codes: torch.Tensor, bits: int) -> list[torch.Tensor]:
    """int64 codes (rows, groups, stages) -> one stored tensor per stage, (rows, groups) each."""
    out = []
    for s, dt in enumerate(stage_dtypes(bits)):
        c = codes[:, :, s]
        if dt == torch.uint8:
            if int(c.min()) < 0 or int(c.max()) > 255:
                raise ValueError(f"codes of stage {s} must be 8-bit indices in [0, 255] for {bits}-bit codes")
            out.append(c.to(torch.uint8))
        else:
            out.append(_to_int16(c))
    return out


def _code_names(prefix: str, bits: int) -> list[str]:
    return [prefix, f"{prefix}_res"][: len(stage_dtypes(bits))]


class CalderaLinear(nn.Module):
    """A compressed linear layer; build it with :meth:`from_result` or :meth:`empty`."""

    def __init__(self, in_features: int, out_features: int, cfg: CalderaConfig, bias: bool = False):
        super().__init__()
        self.in_features, self.out_features, self.cfg = in_features, out_features, cfg
        if cfg.q_kind != "lattice":
            raise ValueError(f"q_kind must be 'lattice' for CalderaLinear; got {cfg.q_kind!r}")
        k, ft = cfg.rank, cfg.ft_rank
        n8, m8 = in_features // 8, out_features // 8
        for name, dt in zip(_code_names("q_codes", cfg.q_bits), stage_dtypes(cfg.q_bits)):
            self.register_buffer(name, torch.zeros(out_features, n8, dtype=dt))
        self.register_buffer("su", torch.ones(in_features))
        self.register_buffer("sv", torch.ones(out_features))
        self.register_buffer("scales", torch.ones(4))  # global, Q, L, R
        lcb = cfg.lr_codebook()
        if lcb is None:
            self.register_buffer("l_frozen", torch.zeros(out_features, k - ft))
            self.register_buffer("r_frozen", torch.zeros(k - ft, in_features))
        elif cfg.lr_kind != "lattice":
            raise ValueError(f"lr_kind must be 'lattice' (or lr_bits=16) for CalderaLinear; got {cfg.lr_kind!r}")
        else:
            for pre, groups in (("l_codes", m8), ("r_codes", n8)):
                for name, dt in zip(_code_names(pre, cfg.lr_bits), stage_dtypes(cfg.lr_bits)):
                    self.register_buffer(name, torch.zeros(k - ft, groups, dtype=dt))
        self.l_ft = nn.Parameter(torch.zeros(out_features, ft))
        self.r_ft = nn.Parameter(torch.zeros(ft, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self.kernel = "fused"
        self._cache: tuple | None = None

    @classmethod
    def from_result(cls, res: CalderaResult, bias: torch.Tensor | None = None) -> CalderaLinear:
        """Pack a :func:`~rizzlib.caldera.decompose.caldera` result."""
        cfg = res.config
        if not cfg.hadamard:
            raise ValueError("cfg.hadamard must be True to build a CalderaLinear (its forward applies the RHT)")
        m, n = res.q_hat.shape
        mod = cls(n, m, cfg, bias=bias is not None)
        ft = cfg.ft_rank
        with torch.no_grad():
            for name, c in zip(_code_names("q_codes", cfg.q_bits), _stage_codes(res.q_codes, cfg.q_bits)):
                getattr(mod, name).copy_(c)
            mod.su.copy_(res.su)
            mod.sv.copy_(res.sv)
            mod.scales.copy_(torch.tensor([res.global_scale, res.q_scale, res.l_scale, res.r_scale]))
            if cfg.lr_codebook() is None:
                mod.l_frozen.copy_(res.l[:, ft:])
                mod.r_frozen.copy_(res.r[ft:])
            elif res.l_codes is not None:
                for pre, codes in (("l_codes", res.l_codes[ft:]), ("r_codes", res.r_codes[ft:])):
                    for name, c in zip(_code_names(pre, cfg.lr_bits), _stage_codes(codes, cfg.lr_bits)):
                        getattr(mod, name).copy_(c)
            mod.l_ft.copy_(res.l[:, :ft])
            mod.r_ft.copy_(res.r[:ft])
            if bias is not None:
                mod.bias.copy_(bias)
        return mod

    def frozen_factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The frozen low-rank factors (m, k - ft), (k - ft, n), decoded once and cached."""
        key = tuple(t.data_ptr() for t in self.buffers())
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        lcb = self.cfg.lr_codebook()
        if lcb is None:
            out = (self.l_frozen, self.r_frozen)
        else:
            l = decode_rows(self.stored_codes("l_codes"), lcb).T * self.scales[2]
            r = decode_rows(self.stored_codes("r_codes"), lcb) * self.scales[3]
            out = (l.to(self.su.dtype), r.to(self.su.dtype))
        self._cache = (key, out)
        return out

    def q_stages(self) -> tuple[torch.Tensor, ...]:
        """The stored Q code buffers, one (m, n/8) tensor per stage (what the kernels take)."""
        return tuple(getattr(self, name) for name in _code_names("q_codes", self.cfg.q_bits))

    def stored_codes(self, prefix: str) -> torch.Tensor:
        """``"q_codes"``, ``"l_codes"`` or ``"r_codes"`` as int64 (rows, groups, stages) code values."""
        bits = self.cfg.q_bits if prefix == "q_codes" else self.cfg.lr_bits
        parts = [getattr(self, n).long() & (0xFF if getattr(self, n).dtype == torch.uint8 else 0xFFFF) for n in _code_names(prefix, bits)]
        return torch.stack(parts, 2)

    def low_rank(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All k directions, L = [L_ft | L_frozen] (m, k) and R = [R_ft ; R_frozen] (k, n)."""
        lf, rf = self.frozen_factors()
        return torch.cat((self.l_ft, lf), 1), torch.cat((self.r_ft, rf), 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_choice("kernel", self.kernel, tuple(KERNELS))
        lead = x.shape[:-1]
        xt = rht_input(x.reshape(-1, self.in_features).to(self.su.dtype), self.su)
        lf, rf = self.frozen_factors()
        z = KERNELS[self.kernel](xt, self.q_stages(), self.cfg.q_bits, float(self.scales[1]), lf, rf)
        if self.cfg.ft_rank:
            z = z + (xt @ self.r_ft.T) @ self.l_ft.T
        y = unrht_output(z, self.sv) * self.scales[0]
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features).to(x.dtype)

    def dense_weight(self) -> torch.Tensor:
        """g * unrht(s_Q Dec(Q) + L R): the (m, n) weight this layer applies (for tests and peers)."""
        from rizzlib.caldera.hadamard import unrht_weight
        from rizzlib.caldera.kernels import decode_q

        l, r = self.low_rank()
        wt = decode_q(self.q_stages(), self.cfg.q_bits, float(self.scales[1])).to(l.dtype) + l @ r
        return unrht_weight(wt, self.su.to(l.dtype), self.sv.to(l.dtype)) * self.scales[0]

    def extra_repr(self) -> str:
        c = self.cfg
        return f"in={self.in_features}, out={self.out_features}, q_bits={c.q_bits}, rank={c.rank}, lr_bits={c.lr_bits}, ft_rank={c.ft_rank}"


def quantized_codebook_names(cfg: CalderaConfig) -> tuple[str, str | None]:
    """Names of the Q and L/R codebooks (for checkpoints and tables)."""
    lcb = cfg.lr_codebook()
    return get_codebook(cfg.q_bits, cfg.q_kind).name, None if lcb is None else lcb.name
