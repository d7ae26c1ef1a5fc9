"""The gpu path (real instruct model and datasets by name) on a tiny random model saved to a temp folder."""

from __future__ import annotations

import numpy as np
import pytest

from rizzlib.icl.embed import SymbolEmbedder
from rizzlib.icl.evaluate import predict_lm
from rizzlib.icl.experiments import run_dataset_selection
from rizzlib.icl.hf import (
    DATASETS,
    bbh_examples,
    flores_examples,
    load_lm,
    load_pool_and_eval,
    text_label_examples,
)
from rizzlib.icl.presets import PRESETS
from rizzlib.icl.toy import bpe_tokenizer, tiny_llama

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_instruct")
    tok = bpe_tokenizer()
    tiny_llama(len(tok), seed=4).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def local_data(tmp_path_factory):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    d = tmp_path_factory.mktemp("data")
    words = ["the cat", "a dog runs", "rain", "blue sky", "we eat bread", "the park"]
    files = {}
    for cfg, f in (("eng_Latn", str.lower), ("kmr_Latn", str.upper)):
        for split, n in (("dev", 12), ("devtest", 5)):
            rows = {"id": list(range(n))[::-1], "text": [f(words[i % 6]) + f" {i}" for i in range(n)][::-1]}
            path = d / f"{cfg}_{split}.parquet"
            pq.write_table(pa.table(rows), path)
            files.setdefault(cfg, {})[split] = str(path)
    bbh = d / "bbh.parquet"
    pq.write_table(pa.table({"input": [f"question {i}" for i in range(20)], "target": [str(i % 3) for i in range(20)]}), bbh)
    return files, {"date_understanding": {"test": str(bbh)}}


def test_field_maps_are_pure_and_align_by_id():
    src = [{"id": 2, "text": "b"}, {"id": 1, "text": "a"}]
    tgt = [{"id": 1, "text": "A"}, {"id": 2, "text": "B"}]
    assert [(e.x, e.y) for e in flores_examples([src, tgt])] == [("b", "B"), ("a", "A")]
    with pytest.raises(ValueError, match="missing"):
        flores_examples([src, tgt[:1]])
    assert bbh_examples([[{"input": "q", "target": "t"}]])[0].y == "t"
    conv = text_label_examples(["neg", "pos"], label="labels")
    assert [e.y for e in conv([[{"text": "x", "labels": [1]}, {"text": "y", "labels": [0, 1]}]])] == ["pos"]


def test_registry_names_the_paper_datasets():
    assert {"flores_eng_bem", "flores_eng_kmr", "flores_eng_ewe", "bbh_date", "bbh_web", "banking77"} <= set(DATASETS)
    for name in PRESETS.gpu.datasets:
        assert name in DATASETS
    with pytest.raises(ValueError, match="name must be one of"):
        load_pool_and_eval("imagenet")


def test_gpu_path_runs_end_to_end_on_the_tiny_saved_model(saved_model, local_data):
    flores, bbh = local_data
    model, tok = load_lm(str(saved_model), dtype="float32", device="cpu")
    pool, ev = load_pool_and_eval("flores_eng_kmr", data_files=flores)
    assert len(pool) == 12 and len(ev) == 5 and pool[0].x.upper() == pool[0].y
    spec = DATASETS["flores_eng_kmr"]
    a = predict_lm(model, tok, spec.template, pool[:4], [e.x for e in ev], max_new_tokens=5)
    b = predict_lm(model, tok, spec.template, pool[:4], [e.x for e in ev], max_new_tokens=5, cached=False)
    assert a == b and len(a) == 5
    pool_b, ev_b = load_pool_and_eval("bbh_date", data_files=bbh, seed=0)
    assert len(pool_b) == 19 and len(ev_b) == 1 and not set(pool_b) & set(ev_b)  # pool_size 150 > 20 rows
    scores = run_dataset_selection(
        model, tok, spec.template, spec.metric, pool, ev[:2], SymbolEmbedder(sorted({w for e in pool for w in e.x.split()})),
        shots=(1, 4), seeds=2, max_new_tokens=4,
    )
    assert scores.shape == (5, 2, 2) and np.all((scores >= 0) & (scores <= 1))


def test_gpu_preset_runs_one_step_on_the_cpu(saved_model):
    """The gpu preset's judge (30 judgements x 30 references) and generator settings, one candidate, tiny model."""
    from rizzlib.icl.augment import LikertJudge, generate_candidates
    from rizzlib.icl.hf import QA_TEMPLATE
    from rizzlib.icl.tasks import Example

    cfg = PRESETS.gpu
    model, tok = load_lm(str(saved_model), dtype="float32", device="cpu")
    refs = [Example(f"question {i}", str(i % 3)) for i in range(cfg.n_refs + 5)]
    judge = LikertJudge(model, tok, QA_TEMPLATE, n_judgements=cfg.n_judgements, n_refs=cfg.n_refs)
    s = judge.score([Example("question x", "1")], refs, np.random.default_rng(0))
    assert s.shape == (1,) and 1 <= s[0] <= 5
    gen = generate_candidates(model, tok, QA_TEMPLATE, refs, 1, np.random.default_rng(0), n_demos=cfg.n_refs, max_new_tokens=8, max_calls=2)
    assert gen.n_calls <= 2
