"""The ``gpu`` path: a real open instruct model and real datasets by name, through the same code.

``load_lm(name)`` is ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained`` (a hub name or a
local folder). :data:`DATASETS` maps a short name to its hub id, config, splits, field map, metric
and prompt template (Baek et al. Appendix A style: header, ``{EXAMPLES}``, ``{TARGET_QUERY}``);
:func:`load_pool_and_eval` returns (pool, evaluation) lists of :class:`Example`. The field-mapping
functions are pure, so tests feed them local parquet files with the real schemas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from rizzlib.core.validate import check_choice, check_int_range
from rizzlib.icl.prompt import Template
from rizzlib.icl.tasks import Example

FLORES_LANGS = {"bem": "bem_Latn", "kmr": "kmr_Latn", "ewe": "ewe_Latn", "spa": "spa_Latn", "fra": "fra_Latn", "deu": "deu_Latn"}
LANG_NAMES = {"bem": "Bemba", "kmr": "Northern Kurdish", "ewe": "Ewe", "spa": "Spanish", "fra": "French", "deu": "German"}


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives and how its rows become examples.

    Attributes:
        hub_id: ``datasets.load_dataset`` path.
        configs: config names to load (FLORES+ needs the source and the target language).
        pool_split, eval_split: split names (equal: split one set with ``pool_size``, LOFT-style).
        to_examples: ``(rows per config) -> list[Example]``, pure.
        metric: ``accuracy``, ``chrf`` or ``rougeL``.
        template: the prompt template (chat-wrapped for instruct models).
        pool_size: examples kept for the pool (shuffled with the seed, then cut); when the pool and
            evaluation share one split, the rest is the evaluation set. None: the whole split.
    """

    hub_id: str
    configs: tuple[str | None, ...]
    pool_split: str
    eval_split: str
    to_examples: Callable[[list[list[dict]]], list[Example]]
    metric: str
    template: Template
    pool_size: int | None = None


def flores_examples(rows_per_config: list[list[dict]]) -> list[Example]:
    """FLORES+ rows (fields ``id``, ``text``) of the source and target configs, aligned by ``id``."""
    src, tgt = rows_per_config
    by_id = {r["id"]: r["text"] for r in tgt}
    missing = [r["id"] for r in src if r["id"] not in by_id]
    if missing:
        raise ValueError(f"target rows missing for ids {missing[:5]}")
    return [Example(r["text"], by_id[r["id"]]) for r in src]


def bbh_examples(rows_per_config: list[list[dict]]) -> list[Example]:
    """BBH rows (fields ``input``, ``target``)."""
    return [Example(r["input"], r["target"]) for r in rows_per_config[0]]


def summary_examples(document: str = "document", summary: str = "summary"):
    """Rows with an article field and a summary field -> examples (XSum: ``document``, ``summary``)."""

    def convert(rows_per_config: list[list[dict]]) -> list[Example]:
        return [Example(r[document], r[summary]) for r in rows_per_config[0]]

    return convert


def text_label_examples(label_names: list[str] | None = None, text: str = "text", label: str = "label"):
    """Rows with a text field and a label (or a list of labels: single-label rows kept) -> examples.

    Labels arrive as names when the dataset declares a ``ClassLabel`` (see :func:`load_pool_and_eval`);
    integer labels are mapped through ``label_names`` when given, else written as digits.
    """

    def convert(rows_per_config: list[list[dict]]) -> list[Example]:
        out = []
        for r in rows_per_config[0]:
            lab = r[label]
            if isinstance(lab, list):
                if len(lab) != 1:
                    continue
                lab = lab[0]
            name = label_names[lab] if label_names is not None and not isinstance(lab, str) else str(lab)
            out.append(Example(r[text], name))
        return out

    return convert


def _mt_template(lang: str) -> Template:
    return Template(
        header=f"Translate the following English text into {LANG_NAMES[lang]}. Answer with the translation only.\n\n",
        demo="<SRC>: {x}\n<TGT>: {y}\n\n",
        query="<SRC>: {x}\n<TGT>:",
        stop="\n",
        chat=True,
    )


QA_TEMPLATE = Template(
    header="Answer the question. Give the answer only, with no explanation.\n\n",
    demo="Question: {x}\nAnswer: {y}\n\n",
    query="Question: {x}\nAnswer:",
    stop="\n",
    chat=True,
)
CLS_TEMPLATE = Template(
    header="Classify the text. Answer with the label only.\n\n",
    demo="Text: {x}\nLabel: {y}\n\n",
    query="Text: {x}\nLabel:",
    stop="\n",
    chat=True,
)

SUM_TEMPLATE = Template(
    header="Summarize the article in one sentence. Answer with the summary only.\n\n",
    demo="Article: {x}\nSummary: {y}\n\n",
    query="Article: {x}\nSummary:",
    stop="\n",
    chat=True,
)

DATASETS: dict[str, DatasetSpec] = {
    **{
        f"flores_eng_{lang}": DatasetSpec(
            "openlanguagedata/flores_plus", ("eng_Latn", cfg), "dev", "devtest", flores_examples, "chrf", _mt_template(lang)
        )
        for lang, cfg in FLORES_LANGS.items()
    },
    **{
        f"bbh_{name}": DatasetSpec("lukaemon/bbh", (cfg,), "test", "test", bbh_examples, "accuracy", QA_TEMPLATE, pool_size=150)
        for name, cfg in {
            "date": "date_understanding",
            "salient": "salient_translation_error_detection",
            "tracking7": "tracking_shuffled_objects_seven_objects",
            "web": "web_of_lies",
        }.items()
    },
    "banking77": DatasetSpec(
        "PolyAI/banking77", (None,), "train", "test", text_label_examples(), "accuracy", CLS_TEMPLATE, pool_size=385
    ),
    "goemotions": DatasetSpec(
        "google-research-datasets/go_emotions", ("simplified",), "train", "test", text_label_examples(label="labels"), "accuracy",
        CLS_TEMPLATE, pool_size=500,
    ),
    "xsum": DatasetSpec(
        "EdinburghNLP/xsum", (None,), "validation", "test", summary_examples(), "rougeL", SUM_TEMPLATE, pool_size=1000
    ),
}
"""Datasets of the paper by short name (FLORES+ is gated: it needs a Hugging Face token).

Pool sizes: FLORES+ the 997-sentence ``dev`` split and BBH 150 of its 250 rows (the paper's); Banking77
385 (LongICLBench's pool, as the paper), GoEmotions 500 and XSum 1,000 (ours: the paper does not give them).
"""


def _rows_with_label_names(ds) -> list[dict]:
    """The rows of a ``datasets.Dataset`` with every ``ClassLabel`` (or list of them) as its name."""
    from datasets import ClassLabel

    named = {}
    for col, feat in ds.features.items():
        inner = getattr(feat, "feature", None)
        if isinstance(feat, ClassLabel):
            named[col] = (feat, False)
        elif isinstance(inner, ClassLabel) or (isinstance(feat, list) and feat and isinstance(feat[0], ClassLabel)):
            named[col] = (inner if isinstance(inner, ClassLabel) else feat[0], True)
    out = []
    for r in ds:
        r = dict(r)
        for col, (feat, is_list) in named.items():
            r[col] = [feat.int2str(int(v)) for v in r[col]] if is_list else feat.int2str(int(r[col]))
        out.append(r)
    return out


def load_pool_and_eval(
    name: str, data_files: dict[str, dict[str, str]] | None = None, seed: int = 0, max_eval: int | None = None
) -> tuple[list[Example], list[Example]]:
    """(pool, evaluation) examples of ``name``.

    ``data_files`` (optional, for offline use and tests) maps each config (``"default"`` for None)
    to ``{split: path}`` of local parquet/jsonl files with the hub schema; otherwise the hub is used.
    When the pool and evaluation share one split, it is shuffled with ``seed`` and cut at ``pool_size``;
    otherwise a pool split longer than ``pool_size`` is shuffled with ``seed`` and cut. ``ClassLabel``
    columns come back as label names (the model must read and write names, not ids).
    """
    from datasets import load_dataset

    check_choice("name", name, tuple(DATASETS))
    spec = DATASETS[name]

    def rows(split: str) -> list[list[dict]]:
        out = []
        for cfg in spec.configs:
            if data_files is not None:
                if (cfg or "default") not in data_files or split not in data_files[cfg or "default"]:
                    raise ValueError(f"data_files must map config {cfg or 'default'!r} to a file for split {split!r}; got {data_files!r}")
                files = data_files[cfg or "default"]
                fmt = "parquet" if files[split].endswith(".parquet") else "json"
                ds = load_dataset(fmt, data_files={split: files[split]}, split=split)
            else:
                ds = load_dataset(spec.hub_id, cfg, split=split)
            out.append(_rows_with_label_names(ds))
        return out

    if spec.pool_split == spec.eval_split:
        every = spec.to_examples(rows(spec.pool_split))
        order = np.random.default_rng(seed).permutation(len(every))
        cut = min(spec.pool_size or len(every) // 2, len(every) - 1)
        pool, ev = [every[i] for i in order[:cut]], [every[i] for i in order[cut:]]
    else:
        pool, ev = spec.to_examples(rows(spec.pool_split)), spec.to_examples(rows(spec.eval_split))
        if spec.pool_size is not None and len(pool) > spec.pool_size:
            order = np.random.default_rng(seed).permutation(len(pool))[: spec.pool_size]
            pool = [pool[i] for i in order]
    if max_eval is not None:
        ev = ev[: check_int_range("max_eval", max_eval, 1, None)]
    return pool, ev


def load_lm(name_or_path: str, dtype: str = "auto", device: str | None = None):
    """(model in eval mode, tokenizer) from a hub name or a local folder via ``from_pretrained``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_choice("dtype", dtype, ("auto", "float32", "bfloat16", "float16"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(name_or_path)
    kw = {} if dtype == "auto" else {"dtype": getattr(torch, dtype)}
    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **kw)
    except TypeError:  # transformers 4.x before the ``dtype`` keyword
        model = AutoModelForCausalLM.from_pretrained(name_or_path, torch_dtype=kw.get("dtype", "auto"))
    return model.to(device).eval(), tok
