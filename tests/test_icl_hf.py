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


BANKING = ["activate_my_card", "age_limit", "apple_pay_or_google_pay", "atm_support", "automatic_top_up"]
EMOTIONS = ["admiration", "amusement", "anger", "annoyance"]


@pytest.fixture(scope="module")
def hub_like_files(tmp_path_factory):
    """Tiny local parquet files with each hub dataset's schema, written by ``datasets`` itself, so
    ``ClassLabel`` names travel in the file's metadata as they do in the hub's parquet exports."""
    from datasets import ClassLabel, Dataset, Features, List, Value

    d = tmp_path_factory.mktemp("hub_like")

    def write(name, rows, features):
        path = d / f"{name}.parquet"
        Dataset.from_dict(rows, features=features).to_parquet(str(path))
        return str(path)

    flores_feats = Features({
        "id": Value("int32"), "iso_639_3": Value("string"), "iso_15924": Value("string"), "glottocode": Value("string"),
        "text": Value("string"), "url": Value("string"), "domain": Value("string"), "topic": Value("string"),
        "has_image": Value("bool"), "has_hyperlink": Value("bool"), "last_updated": Value("string"),
    })
    flores = {}
    for lang, iso, text in (("eng_Latn", "eng", "the cat {i}"), ("bem_Latn", "bem", "imbushi {i}")):
        for split, n in (("dev", 9), ("devtest", 4)):
            rows = {
                "id": list(range(1, n + 1))[::-1], "iso_639_3": [iso] * n, "iso_15924": ["Latn"] * n, "glottocode": ["x"] * n,
                "text": [text.format(i=i) for i in range(1, n + 1)][::-1], "url": [""] * n, "domain": ["wikinews"] * n,
                "topic": ["t"] * n, "has_image": [False] * n, "has_hyperlink": [False] * n, "last_updated": ["1"] * n,
            }
            flores.setdefault(lang, {})[split] = write(f"flores_{lang}_{split}", rows, flores_feats)
    bank_feats = Features({"text": Value("string"), "label": ClassLabel(names=BANKING)})
    banking = {"default": {
        split: write(f"banking_{split}", {"text": [f"my card question {i}" for i in range(n)], "label": [i % 5 for i in range(n)]}, bank_feats)
        for split, n in (("train", 12), ("test", 5))
    }}
    emo_feats = Features({"text": Value("string"), "labels": List(ClassLabel(names=EMOTIONS)), "id": Value("string")})
    emo_rows = {"text": ["so funny", "great job", "ugh", "wow", "hm"], "labels": [[1], [0], [2, 3], [0], []], "id": list("abcde")}
    goemotions = {"simplified": {split: write(f"goemo_{split}", emo_rows, emo_feats) for split in ("train", "test")}}
    xsum_feats = Features({"document": Value("string"), "summary": Value("string"), "id": Value("string")})
    xsum = {"default": {
        split: write(f"xsum_{split}", {
            "document": [f"The council met on day {i}. It voted on the park. Residents said the park matters." for i in range(n)],
            "summary": [f"The council voted on the park on day {i}." for i in range(n)],
            "id": [str(i) for i in range(n)],
        }, xsum_feats)
        for split, n in (("validation", 8), ("test", 3))
    }}
    return {"flores_eng_bem": flores, "banking77": banking, "goemotions": goemotions, "xsum": xsum}


def test_hub_schemas_load_with_label_names(hub_like_files):
    pool, ev = load_pool_and_eval("flores_eng_bem", data_files=hub_like_files["flores_eng_bem"])
    assert len(pool) == 9 and len(ev) == 4
    assert all(e.x.split()[-1] == e.y.split()[-1] for e in pool + ev)  # aligned by id though stored reversed
    pool, ev = load_pool_and_eval("banking77", data_files=hub_like_files["banking77"])
    assert [e.y for e in ev] == BANKING  # ClassLabel ids come back as the label names
    assert len(pool) == 12 and {e.y for e in pool} == set(BANKING)
    pool, ev = load_pool_and_eval("goemotions", data_files=hub_like_files["goemotions"])
    assert [(e.x, e.y) for e in ev] == [("so funny", "amusement"), ("great job", "admiration"), ("wow", "admiration")]
    pool, ev = load_pool_and_eval("xsum", data_files=hub_like_files["xsum"], max_eval=2)
    assert len(pool) == 8 and len(ev) == 2 and ev[0].y == "The council voted on the park on day 0."
    assert DATASETS["xsum"].metric == "rougeL"
    with pytest.raises(ValueError, match="data_files must map config"):
        load_pool_and_eval("xsum", data_files={"default": {"test": "x.parquet"}})


def test_pool_split_is_cut_at_pool_size_with_the_seed(hub_like_files, monkeypatch):
    import dataclasses

    from rizzlib.icl import hf

    monkeypatch.setitem(hf.DATASETS, "xsum", dataclasses.replace(hf.DATASETS["xsum"], pool_size=3))
    a, _ = load_pool_and_eval("xsum", data_files=hub_like_files["xsum"], seed=1)
    b, _ = load_pool_and_eval("xsum", data_files=hub_like_files["xsum"], seed=1)
    c, _ = load_pool_and_eval("xsum", data_files=hub_like_files["xsum"], seed=2)
    assert len(a) == 3 and a == b and len({e.x for e in a}) == 3 and a != c


OFFLINE_SCRIPT = """
import json, sys
from rizzlib.icl.hf import DATASETS, load_lm, load_pool_and_eval
from rizzlib.icl.evaluate import predict_lm, score
files = json.loads(sys.argv[2])
model, tok = load_lm(sys.argv[1], dtype="float32", device="cpu")
out = {}
for name, data_files in files.items():
    pool, ev = load_pool_and_eval(name, data_files=data_files, max_eval=2)
    spec = DATASETS[name]
    preds = predict_lm(model, tok, spec.template, pool[:3], [e.x for e in ev], max_new_tokens=4)
    out[name] = [len(pool), len(ev), score(spec.metric, preds, [e.y for e in ev]).tolist()]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_gpu_path_runs_fully_offline_in_a_fresh_process(saved_model, hub_like_files, tmp_path):
    """With every Hugging Face offline switch on and an empty cache, the hub-name code path loads the
    saved tiny model and the local hub-schema files and scores each dataset with its metric."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               HF_HOME=str(tmp_path / "hf_home"), HF_DATASETS_CACHE=str(tmp_path / "ds_cache"), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT, str(saved_model), json.dumps(hub_like_files)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(out) == set(hub_like_files)
    for name, (n_pool, n_eval, scores) in out.items():
        assert n_pool >= 3 and n_eval == 2 and all(0.0 <= v <= 1.0 for v in scores), name


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


def test_dataset_draws_random_subsets_and_names_bad_sizes():
    from rizzlib.icl.data import as_data, dataset
    from rizzlib.icl.hf import QA_TEMPLATE
    from rizzlib.icl.tasks import Example

    pool = [Example(f"q{i}", str(i % 3)) for i in range(10)]
    ev = [Example(f"e{i}", str(i % 3)) for i in range(4)]
    data = dataset("toy", pool, ev, QA_TEMPLATE, "accuracy", SymbolEmbedder(["q1"]))
    p1, q1 = data.draw(np.random.default_rng(3), 6, 2)
    p2, q2 = data.draw(np.random.default_rng(3), 6, 2)
    assert p1 == p2 and q1 == q2 and len(set(p1)) == 6 and set(p1) <= set(pool) and set(q1) <= set(ev)
    assert data.ideal is None and data.max_pool == 10 and data.max_queries == 4 and np.all(data.difficulty(p1, None) == 0)
    with pytest.raises(ValueError, match="n_pool must be in"):
        data.draw(np.random.default_rng(0), 11, 2)
    with pytest.raises(ValueError, match="n_queries must be in"):
        data.draw(np.random.default_rng(0), 3, 5)
    with pytest.raises(ValueError, match="must be non-empty"):
        dataset("toy", [], ev, QA_TEMPLATE, "accuracy", None)
    with pytest.raises(ValueError, match="metric must be one of"):
        dataset("toy", pool, ev, QA_TEMPLATE, "bleu", None)
    with pytest.raises(ValueError, match="task must be a synthetic task name or a Data"):
        as_data(3)
    assert as_data("keycls") is as_data("keycls") and as_data(data) is data


def test_noise_on_a_fixed_dataset_is_the_hand_computed_curve():
    """The noise experiment through the Data path, checked against inject_noise + the ideal learner by hand."""
    from rizzlib.icl.data import dataset
    from rizzlib.icl.experiments import run_noise
    from rizzlib.icl.ideal import ideal_predict
    from rizzlib.icl.noise import inject_noise
    from rizzlib.icl.prompt import synthetic_template
    from rizzlib.icl.tasks import get_task, sample_episode

    ep = sample_episode(get_task("keycls"), np.random.default_rng(0), n_pool=40, n_queries=12)
    data = dataset("keycls-fixed", ep.pool, ep.queries, synthetic_template("keycls"), "accuracy", SymbolEmbedder(["k0"]),
                   ideal=lambda demos, xs: ideal_predict("keycls", demos, xs))
    fr = (0.0, 0.5, 1.0)
    got = run_noise(data, fr, k=16, seeds=3, n_queries=6, seed=4)["ideal"]
    for s in range(3):
        pool, queries = data.draw(np.random.default_rng([4, s]), 16, 6)
        for fi, r in enumerate(fr):
            demos = inject_noise(pool, r, np.random.default_rng([4, s, fi])).examples
            preds = ideal_predict("keycls", demos, [q.x for q in queries])
            assert got[fi, s] == pytest.approx(np.mean([p == q.y for p, q in zip(preds, queries)]))


def test_order_noise_inflation_and_table2_run_unchanged_on_a_real_dataset(saved_model, hub_like_files):
    """The experiment functions take a registry dataset (hub-schema files, tiny saved model) as they take a task."""
    from rizzlib.icl.data import from_registry
    from rizzlib.icl.experiments import run_inflation, run_noise, run_order
    from rizzlib.icl.table2 import run_table2

    model, tok = load_lm(str(saved_model), dtype="float32", device="cpu")
    words = sorted({w for e in load_pool_and_eval("banking77", data_files=hub_like_files["banking77"])[0] for w in e.x.split()})
    data = from_registry("banking77", model, tok, embedder=SymbolEmbedder(words), data_files=hub_like_files["banking77"])
    assert data.metric == "accuracy" and data.max_pool == 12 and data.ideal is None
    o = run_order(data, shots=(2,), seeds=2, n_pool=8, n_queries=2, model=model, tokenizer=tok)
    assert o.model.shape == (4, 1, 2) and np.all((o.model >= 0) & (o.model <= 1)) and np.all(np.isnan(o.ideal))
    n = run_noise(data, (0.0, 0.5), k=6, seeds=2, n_queries=2, model=model, tokenizer=tok)
    assert n["model"].shape == (2, 2) and np.all(np.isnan(n["ideal"]))
    i = run_inflation(data, (0.5, 1.0), window=256, n_distinct=3, seeds=2, n_queries=2, model=model, tokenizer=tok)
    assert i.model.shape == (2, 2, 2) and np.all(i.n_demos[1] <= 12) and np.all(i.n_demos[:, 0] <= i.n_demos[:, 1])
    t = run_table2(data, shots=(2,), seeds=2, n_pool=8, n_queries=2, model=model, tokenizer=tok, iterations=2)
    assert t.ideal is None and t.model.shape == (4, 1, 2) and np.all((t.model >= 0) & (t.model <= 1))
    with pytest.raises(ValueError, match="tokenizer must be given"):
        run_inflation(data, (0.5,), window=256, n_distinct=3, seeds=1, n_queries=2)
    with pytest.raises(ValueError, match="n_distinct must be in"):
        run_inflation(data, (0.5,), window=256, n_distinct=13, seeds=1, n_queries=2, tokenizer=tok)
    with pytest.raises(ValueError, match="model must be given"):
        run_table2(data, shots=(2,), seeds=2, n_pool=8, n_queries=2)
    with pytest.raises(ValueError, match="n_pool must be in"):
        run_order(data, shots=(2,), seeds=1, n_pool=13, n_queries=2, model=model, tokenizer=tok)
