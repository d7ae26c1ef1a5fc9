"""Chapter 5: many-shot in-context learning: selection vs random, prefix caching, generate-then-filter, noise.

Synthetic tasks and ideal learners (:mod:`~rizzlib.icl.tasks`, :mod:`~rizzlib.icl.ideal`), the five
selectors (:mod:`~rizzlib.icl.select`) over embeddings (:mod:`~rizzlib.icl.embed`), budgeted prompts
(:mod:`~rizzlib.icl.prompt`), prefix KV caching (:mod:`~rizzlib.icl.cache`), augmentation and noise
(:mod:`~rizzlib.icl.augment`, :mod:`~rizzlib.icl.noise`), evaluation and significance
(:mod:`~rizzlib.icl.evaluate`, ROUGE-L in :mod:`~rizzlib.icl.rouge`), experiments (:mod:`~rizzlib.icl.experiments`;
Table 2's Auto-ICL, IDS and ICCL in :mod:`~rizzlib.icl.table2`), the small Llama and
its meta-training with its curricula (:mod:`~rizzlib.icl.model`, :mod:`~rizzlib.icl.train`; where it fails
at a look-up: :mod:`~rizzlib.icl.diagnose`) and the real-model path
(:mod:`~rizzlib.icl.hf`). Graded checks live in :mod:`rizzlib.icl.checks` (not re-exported).
"""

from rizzlib.core.extras import require_extra

require_extra(__name__, "icl", modules=["torch", "transformers", "safetensors", "scipy", "sklearn", "sacrebleu"])

from rizzlib.icl.augment import (  # noqa: E402
    LikertJudge,
    LogProbJudge,
    augment,
    filter_mask,
    generate_candidates,
    likert_expectation,
    parse_demo,
    precision_recall,
)
from rizzlib.icl.cache import (  # noqa: E402
    PrefixCache,
    cache_length,
    continuation_logprobs,
    crop_cache,
    encode_prefix,
    greedy_generate,
    query_logits,
)
from rizzlib.icl.embed import HiddenStateEmbedder, MiniLMEmbedder, SymbolEmbedder  # noqa: E402
from rizzlib.icl.evaluate import (  # noqa: E402
    chrf,
    count_significant_wins,
    evaluate_shots,
    exact_match,
    predict_lm,
    significantly_better,
    welch_test,
)
from rizzlib.icl.ideal import ideal_predict  # noqa: E402
from rizzlib.icl.model import ModelConfig, build_model, load_checkpoint, save_checkpoint  # noqa: E402
from rizzlib.icl.noise import NoisyDemos, inject_noise  # noqa: E402
from rizzlib.icl.presets import PRESETS, ICLConfig, preset  # noqa: E402
from rizzlib.icl.prompt import Prompt, Template, build_prefix, build_prompt, build_query, synthetic_template  # noqa: E402
from rizzlib.icl.rouge import rouge_l, rouge_l_f  # noqa: E402
from rizzlib.icl.select import (  # noqa: E402
    ALL_SELECTORS,
    SELECTORS,
    Pool,
    make_pool,
    order_demos,
    select,
    select_curriculum,
    select_diversity,
    select_hard,
    select_iccl,
    select_random,
    select_relevance,
)
from rizzlib.icl.table2 import IDS, AutoICL, run_table2  # noqa: E402
from rizzlib.icl.tasks import Episode, Example, get_task, make_tokenizer, sample_episode  # noqa: E402

__all__ = [
    "ALL_SELECTORS",
    "IDS",
    "PRESETS",
    "SELECTORS",
    "AutoICL",
    "Episode",
    "Example",
    "HiddenStateEmbedder",
    "ICLConfig",
    "LikertJudge",
    "LogProbJudge",
    "MiniLMEmbedder",
    "ModelConfig",
    "NoisyDemos",
    "Pool",
    "PrefixCache",
    "Prompt",
    "SymbolEmbedder",
    "Template",
    "augment",
    "build_model",
    "build_prefix",
    "build_prompt",
    "build_query",
    "cache_length",
    "chrf",
    "continuation_logprobs",
    "count_significant_wins",
    "crop_cache",
    "encode_prefix",
    "evaluate_shots",
    "exact_match",
    "filter_mask",
    "generate_candidates",
    "get_task",
    "greedy_generate",
    "ideal_predict",
    "inject_noise",
    "likert_expectation",
    "load_checkpoint",
    "make_pool",
    "make_tokenizer",
    "order_demos",
    "parse_demo",
    "precision_recall",
    "predict_lm",
    "preset",
    "query_logits",
    "rouge_l",
    "run_table2",
    "rouge_l_f",
    "sample_episode",
    "save_checkpoint",
    "select",
    "select_curriculum",
    "select_diversity",
    "select_hard",
    "select_iccl",
    "select_random",
    "select_relevance",
    "significantly_better",
    "synthetic_template",
    "welch_test",
]
