"""Chapter 2: CALDERA (W ~ Q + L R) with QuIP#'s E8P lattice codebook, LDLQ and Hadamard incoherence.

Pieces, one job each: :mod:`~rizzlib.caldera.hadamard` (fast Walsh-Hadamard and randomized
Hadamard transforms of any size), :mod:`~rizzlib.caldera.lattice` (D8 / E8 nearest points),
:mod:`~rizzlib.caldera.codebooks` (E8P, its residual 3/4-bit variants, scalar grids),
:mod:`~rizzlib.caldera.ldlq` (BlockLDLQ, GPTQ with a scalar grid), :mod:`~rizzlib.caldera.decompose`
(the CALDERA alternation), :mod:`~rizzlib.caldera.bits` (exact bit accounting),
:mod:`~rizzlib.caldera.data` / :mod:`~rizzlib.caldera.lm` (the offline byte LM of the stdlib),
:mod:`~rizzlib.caldera.module` / :mod:`~rizzlib.caldera.kernels` (the compressed layer and its
decode-matmuls), :mod:`~rizzlib.caldera.storage` (the on-disk layout), :mod:`~rizzlib.caldera.compress`
(whole models, LoRA), :mod:`~rizzlib.caldera.rht_ft` (fine-tuning the Hadamard signs),
:mod:`~rizzlib.caldera.reference` (slow twins for tests).
"""

from rizzlib.core.extras import require_extra

require_extra(__name__, "caldera", modules=["torch", "transformers", "safetensors"])  # before torch imports

from rizzlib.caldera.bits import LLAMA_SHAPES, BitBudget, average_bits, llama_table, matrix_bits  # noqa: E402
from rizzlib.caldera.codebooks import (  # noqa: E402
    E8P,
    E8PRVQ,
    Codebook,
    D8Ball,
    ScalarGrid,
    e8p_encode,
    e8p_table,
    get_codebook,
    quantize_matrix,
)
from rizzlib.caldera.decompose import CalderaConfig, CalderaResult, caldera  # noqa: E402
from rizzlib.caldera.hadamard import (  # noqa: E402
    fwht,
    hadamard_matrix,
    hadamard_transform,
    rht_hessian,
    rht_input,
    rht_weight,
    unrht_output,
    unrht_weight,
)
from rizzlib.caldera.lattice import e8_roots, nearest_d8, nearest_e8  # noqa: E402
from rizzlib.caldera.ldlq import block_ldl, damp_hessian, ldlq, nearest_rounding, proxy_loss, relative_error  # noqa: E402

__all__ = [
    "E8P",
    "E8PRVQ",
    "LLAMA_SHAPES",
    "BitBudget",
    "CalderaConfig",
    "CalderaResult",
    "Codebook",
    "D8Ball",
    "ScalarGrid",
    "average_bits",
    "block_ldl",
    "caldera",
    "damp_hessian",
    "e8_roots",
    "e8p_encode",
    "e8p_table",
    "fwht",
    "get_codebook",
    "hadamard_matrix",
    "hadamard_transform",
    "ldlq",
    "llama_table",
    "matrix_bits",
    "nearest_d8",
    "nearest_e8",
    "nearest_rounding",
    "proxy_loss",
    "quantize_matrix",
    "relative_error",
    "rht_hessian",
    "rht_input",
    "rht_weight",
    "unrht_output",
    "unrht_weight",
]
