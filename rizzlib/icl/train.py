"""Meta-training the small Llama to learn the synthetic tasks in context.

Every training sequence is one episode: ``<bos> <task> x1 → y1 ; x2 → y2 ; ...`` filled to
``seq_len`` tokens with fresh demonstrations of a freshly drawn rule, so the rule can only be read
from the context. The loss is next-token cross-entropy on the answer tokens (every ``y`` and its
``;``), so one sequence of k demos trains every shot count from 0 to k - 1 at once.

Offset arithmetic, y = (a + b + c) mod 10 with a per-episode offset c, does not leave the ln 10
plateau when trained from scratch (``scripts/icl_arith_probe.py``). :class:`OffsetCurriculum`
starts it at c = 0 (plain addition, a rule the weights can store) and widens the offset range each
time the learner masters the current one. :class:`StageCurriculum` does the same for any task
through a list of ever harder settings of its task class (cipher: longer words; keycls: more
distractors around the key), ending at the task's defaults.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time

import numpy as np
import torch

from rizzlib.core.validate import check_choice, check_int_range, check_range
from rizzlib.icl.prompt import synthetic_template
from rizzlib.icl.tasks import DIGITS, TASK_NAMES, OffsetArithTask, get_task


@dataclasses.dataclass(frozen=True)
class OffsetCurriculum:
    """Widen offset arithmetic's per-episode offset range as the learner masters it.

    Arith episodes draw c from ``0 .. n - 1``; n starts at ``start`` (1: c = 0 always). After every
    step the teacher-forced argmax accuracy of the batch's arith answer digits is recorded, leaving
    out each sequence's first answer (no demo precedes it, so its offset cannot be known). Once the
    mean over the last ``window`` steps at the current n reaches ``threshold``, n grows by ``grow``,
    up to all 10 offsets.

    Attributes:
        start: offsets at the start (1 to 10).
        grow: offsets added at each promotion (>= 1).
        threshold: accuracy that promotes, in (0, 1].
        window: steps averaged (>= 1); also the fewest steps spent at each n.
    """

    start: int = 1
    grow: int = 1
    threshold: float = 0.9
    window: int = 50

    def __post_init__(self) -> None:
        check_int_range("start", self.start, 1, 10)
        check_int_range("grow", self.grow, 1, 9)
        check_range("threshold", self.threshold, 0.0, 1.0, low_inclusive=False)
        check_int_range("window", self.window, 1, None)

    def next_offsets(self, n_offsets: int, recent_acc: list[float]) -> int:
        """The offset count after this step, given the accuracies of the steps at ``n_offsets`` so far."""
        if n_offsets >= 10 or len(recent_acc) < self.window:
            return n_offsets
        if float(np.mean(recent_acc[-self.window :])) >= self.threshold:
            return min(10, n_offsets + self.grow)
        return n_offsets


STAGES: dict[str, tuple[dict, ...]] = {
    "cipher": ({"min_len": 1, "max_len": 1}, {"min_len": 1, "max_len": 2}, {"min_len": 1, "max_len": 3}, {"min_len": 2, "max_len": 4}),
    "keycls": ({"n_classes": 8, "n_distractors": 0}, {"n_classes": 8, "n_distractors": 1}, {"n_classes": 8, "n_distractors": 3},
               {"n_classes": 4, "n_distractors": 3}),
}
"""The stages :class:`StageCurriculum` uses by default, easiest first; each task's last stage is its defaults.

cipher: one-symbol words make a plain look-up (find the symbol among earlier inputs, copy what
follows its arrow); longer words add the alignment of the i-th output to the i-th input. keycls: with
no distractors the input is the key alone; each distractor makes the key harder to find. Its first
stages draw the 12 keys' labels from 8 classes instead of 4, so that guessing the context's most
frequent label pays less and the look-up more (with 4 classes a run stayed at that guess)."""


@dataclasses.dataclass(frozen=True)
class StageCurriculum:
    """Train one task through ever harder settings of its task class, moving on as the learner masters each.

    Episodes of ``task`` are drawn from ``type(get_task(task))(**stages[i])`` at stage i (starting at
    ``start``). After every step the teacher-forced argmax accuracy of the batch's answer symbols of
    ``task`` is recorded, leaving out each sequence's first answer (no demo precedes it). Once the mean
    over the last ``window`` steps at the current stage reaches ``threshold``, the next stage begins.
    Some answers cannot be read from the context (a key or symbol not shown yet), so the threshold sits
    below what a perfect in-context learner scores on a training sequence.

    Attributes:
        task: ``"cipher"``, ``"keycls"`` or ``"arith"``.
        stages: keyword settings of the task class per stage, easiest first (empty: :data:`STAGES`).
        start: the stage to begin at (0-based).
        threshold: accuracy that moves on, in (0, 1].
        window: steps averaged (>= 1); also the fewest steps spent at each stage.
    """

    task: str
    stages: tuple[dict, ...] = ()
    start: int = 0
    threshold: float = 0.7
    window: int = 50

    def __post_init__(self) -> None:
        check_choice("task", self.task, TASK_NAMES)
        if not self.stages:
            if self.task not in STAGES:
                raise ValueError(f"stages must be given for task {self.task!r} (defaults exist for {sorted(STAGES)})")
            object.__setattr__(self, "stages", STAGES[self.task])
        object.__setattr__(self, "stages", tuple(dict(s) for s in self.stages))
        for s in self.stages:
            type(get_task(self.task))(**s)  # raises on a bad setting, naming it
        check_int_range("start", self.start, 0, len(self.stages) - 1)
        check_range("threshold", self.threshold, 0.0, 1.0, low_inclusive=False)
        check_int_range("window", self.window, 1, None)

    def make_task(self, stage: int):
        """The task object of ``stage``."""
        check_int_range("stage", stage, 0, len(self.stages) - 1)
        return type(get_task(self.task))(**self.stages[stage])

    def next_stage(self, stage: int, recent_acc: list[float]) -> int:
        """The stage after this step, given the accuracies of the steps at ``stage`` so far."""
        if stage >= len(self.stages) - 1 or len(recent_acc) < self.window:
            return stage
        return stage + 1 if float(np.mean(recent_acc[-self.window :])) >= self.threshold else stage


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Meta-training settings.

    Attributes:
        steps: optimizer steps.
        batch_size: sequences per step.
        seq_len: tokens per sequence (demos are added while they fit).
        lr: peak AdamW learning rate (linear warm-up, cosine decay to 10%).
        warmup: warm-up steps.
        weight_decay: AdamW decay.
        tasks: task names, drawn per sequence with ``task_weights``.
        task_weights: relative frequency of each task.
        seed: seeds initialisation and data.
        max_minutes: stop early after this wall time (0: no limit).
        curriculum: an :class:`OffsetCurriculum` for the arith episodes (None: all 10 offsets from
            the start); needs ``"arith"`` among ``tasks``.
        stages: :class:`StageCurriculum` s, at most one per task, each among ``tasks`` (and not
            arith when ``curriculum`` is set).
    """

    steps: int = 4000
    batch_size: int = 16
    seq_len: int = 512
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    tasks: tuple[str, ...] = TASK_NAMES
    task_weights: tuple[float, ...] = (0.4, 0.4, 0.2)
    seed: int = 0
    max_minutes: float = 0.0
    curriculum: OffsetCurriculum | None = None
    stages: tuple[StageCurriculum, ...] = ()

    def __post_init__(self) -> None:
        check_int_range("steps", self.steps, 1, None)
        check_int_range("batch_size", self.batch_size, 1, None)
        check_int_range("seq_len", self.seq_len, 16, None)
        check_range("lr", self.lr, 0.0, None, low_inclusive=False)
        check_int_range("warmup", self.warmup, 0, None)
        check_range("weight_decay", self.weight_decay, 0.0, None)
        if len(self.tasks) != len(self.task_weights) or not self.tasks:
            raise ValueError("tasks and task_weights must be non-empty and of the same length")
        for t in self.tasks:
            if t not in TASK_NAMES:
                raise ValueError(f"tasks must be among {TASK_NAMES}; got {t!r}")
        check_range("max_minutes", self.max_minutes, 0.0, None)
        if self.curriculum is not None and "arith" not in self.tasks:
            raise ValueError(f"curriculum needs 'arith' among tasks; got tasks={self.tasks}")
        names = [c.task for c in self.stages]
        if len(set(names)) != len(names) or any(n not in self.tasks for n in names):
            raise ValueError(f"stages must name distinct tasks among tasks={self.tasks}; got {names}")
        if self.curriculum is not None and "arith" in names:
            raise ValueError("arith takes either curriculum or a StageCurriculum in stages, not both")


def episode_sequence(
    task_name: str, tokenizer, rng: np.random.Generator, seq_len: int, task=None
) -> tuple[list[int], list[int]]:
    """One training sequence of ``task_name``: (ids, loss mask) of length <= ``seq_len``.

    The mask is 1 on the tokens to predict (each answer's symbols and its ``;``). ``task`` (optional)
    is a task object to use instead of ``get_task(task_name)``'s default (e.g. an arith variant).
    """
    task = get_task(task_name) if task is None else task
    tmpl = synthetic_template(task_name)
    latent = task.sample_latent(rng)
    ids = [tokenizer.bos_token_id] + list(tokenizer.encode(tmpl.header, add_special_tokens=False))
    mask = [0] * len(ids)
    while True:
        ex = task.sample_example(latent, rng)
        x_ids = tokenizer.convert_tokens_to_ids(tmpl.render_query(ex.x).split())
        y_ids = tokenizer.convert_tokens_to_ids(f"{ex.y} {tmpl.stop}".split())
        if len(ids) + len(x_ids) + len(y_ids) > seq_len:
            return ids, mask
        ids += x_ids + y_ids
        mask += [0] * len(x_ids) + [1] * len(y_ids)


def make_batch(
    cfg: TrainConfig, tokenizer, rng: np.random.Generator, overrides: dict | None = None, return_tasks: bool = False
):
    """(ids, mask) of shape (batch_size, seq_len), right-padded with 0 (mask 0 on padding).

    ``overrides`` maps a task name to the task object to draw it from (e.g. an arith task with fewer
    offsets); ``return_tasks`` also returns each row's task name.
    """
    p = np.asarray(cfg.task_weights, dtype=np.float64)
    ids = torch.zeros((cfg.batch_size, cfg.seq_len), dtype=torch.long)
    mask = torch.zeros((cfg.batch_size, cfg.seq_len), dtype=torch.float32)
    names = []
    for b in range(cfg.batch_size):
        name = cfg.tasks[int(rng.choice(len(cfg.tasks), p=p / p.sum()))]
        seq, m = episode_sequence(name, tokenizer, rng, cfg.seq_len, task=(overrides or {}).get(name))
        ids[b, : len(seq)] = torch.tensor(seq)
        mask[b, : len(m)] = torch.tensor(m, dtype=torch.float32)
        names.append(name)
    return (ids, mask, names) if return_tasks else (ids, mask)


def masked_loss(model, ids: torch.Tensor, mask: torch.Tensor, return_logits: bool = False):
    """Mean next-token cross-entropy over the positions where ``mask[:, 1:]`` is 1.

    With ``return_logits`` also the logits, shape (batch, seq_len - 1, vocab).
    """
    logits = model(input_ids=ids[:, :-1], use_cache=False).logits
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
    m = mask[:, 1:]
    loss = (ce * m).sum() / m.sum().clamp_min(1.0)
    return (loss, logits) if return_logits else loss


def later_digit_accuracy(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor, rows: list[int], tokenizer) -> float:
    """Teacher-forced argmax accuracy of the answer digits of ``rows``, each row's first answer left out.

    ``logits`` (batch, seq_len - 1, vocab) predict ``ids[:, 1:]``; ``mask`` marks answer tokens. NaN
    when no digit is scored.
    """
    digits = torch.tensor(tokenizer.convert_tokens_to_ids(list(DIGITS)))
    hits, count = 0, 0
    for r in rows:
        target, m = ids[r, 1:], mask[r, 1:].bool()
        pos = torch.nonzero(m & torch.isin(target, digits)).flatten()[1:]
        hits += int((logits[r, pos].argmax(-1) == target[pos]).sum())
        count += int(pos.numel())
    return hits / count if count else float("nan")


def later_answer_accuracy(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor, rows: list[int], tokenizer) -> float:
    """Teacher-forced argmax accuracy of the answer symbols (not the ``;``) of ``rows``, each row's first answer left out.

    Shapes as in :func:`later_digit_accuracy`; NaN when no symbol is scored.
    """
    stop = tokenizer.convert_tokens_to_ids(";")
    hits, count = 0, 0
    for r in rows:
        target, m = ids[r, 1:], mask[r, 1:].bool()
        ends = torch.nonzero(m & (target == stop)).flatten()
        if ends.numel() == 0:
            continue
        m = m & (target != stop)
        m[: int(ends[0]) + 1] = False  # the first answer: nothing before it shows the rule
        pos = torch.nonzero(m).flatten()
        hits += int((logits[r, pos].argmax(-1) == target[pos]).sum())
        count += int(pos.numel())
    return hits / count if count else float("nan")


def lr_at(step: int, cfg: TrainConfig, time_frac: float = 0.0) -> float:
    """Linear warm-up, then cosine decay from ``lr`` to ``lr / 10`` at the end of the run.

    The run ends at ``cfg.steps`` or, with ``max_minutes``, when the wall time runs out, whichever
    comes first: ``time_frac`` (elapsed / limit) advances the decay like the step count does.
    """
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = max((step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1), time_frac)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def train(
    model, tokenizer, cfg: TrainConfig, progress: bool = True, callback=None, resume: dict | None = None,
    save_every: int = 250,
) -> dict:
    """Meta-train ``model`` in place. Returns {"loss": [...], "steps": n done, "wall_s": seconds}.

    With ``cfg.curriculum`` it also returns "arith_acc" (per step, see :class:`OffsetCurriculum`),
    "n_offsets" (per step) and "promotions" ([(step, new offset count), ...]); with ``cfg.stages``,
    "stages": {task: {"acc": per step, "stage": per step, "moves": [(step, new stage), ...]}}.
    ``callback(step, model, state=...)`` (optional) runs every ``save_every`` steps, e.g. to save a
    checkpoint; with a curriculum it also gets ``n_offsets=...`` and ``promotions=...``. ``state`` is
    everything a cut run needs to go on (optimizer moments, the data generator, the logs, the
    curriculum stage, the wall time spent): passing it back as ``resume`` (with the model's weights
    of that step) continues the run exactly where it stopped, as if it had never stopped.
    """
    from tqdm.auto import tqdm

    check_int_range("save_every", save_every, 1, None)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    cur = cfg.curriculum
    res = resume or {}
    done = int(res.get("done", 0))
    losses: list[float] = list(res.get("losses", []))
    n_offsets = int(res.get("n_offsets", cur.start if cur else 10))
    accs: list[float] = list(res.get("accs", []))
    stage_accs: list[float] = list(res.get("stage_accs", []))
    offsets_log: list[int] = list(res.get("offsets_log", []))
    promotions: list[tuple[int, int]] = [tuple(p) for p in res.get("promotions", [])]
    # per StageCurriculum (by task): current stage, accuracies at it, log per step, (step, stage) moves
    st = {c.task: {"stage": c.start, "stage_accs": [], "accs": [], "log": [], "moves": []} for c in cfg.stages}
    for task, saved in res.get("stages", {}).items():
        st[task] = {k: (list(v) if isinstance(v, list) else v) for k, v in saved.items()}
        st[task]["moves"] = [tuple(p) for p in st[task]["moves"]]
    if resume is not None:
        if len(losses) != done or done > cfg.steps:
            raise ValueError(f"resume must hold {done} <= steps={cfg.steps} logged steps; got {len(losses)} losses")
        opt.load_state_dict(resume["optimizer"])
        rng.bit_generator.state = resume["rng"]
    model.train()
    start = time.perf_counter() - float(res.get("elapsed_s", 0.0))

    def snapshot() -> dict:
        return {
            "done": done, "elapsed_s": time.perf_counter() - start, "optimizer": copy.deepcopy(opt.state_dict()),
            "rng": rng.bit_generator.state, "losses": list(losses), "n_offsets": n_offsets, "accs": list(accs),
            "stage_accs": list(stage_accs), "offsets_log": list(offsets_log), "promotions": list(promotions),
            "stages": copy.deepcopy(st),
        }

    bar = tqdm(range(done, cfg.steps), disable=not progress, desc="meta-train", mininterval=30)
    for step in bar:
        if cfg.max_minutes and time.perf_counter() - start > 60 * cfg.max_minutes:
            break
        for g in opt.param_groups:
            elapsed = (time.perf_counter() - start) / 60
            g["lr"] = lr_at(step, cfg, elapsed / cfg.max_minutes if cfg.max_minutes else 0.0)
        overrides = {"arith": OffsetArithTask(n_offsets=n_offsets)} if cur else {}
        overrides.update({c.task: c.make_task(st[c.task]["stage"]) for c in cfg.stages})
        ids, mask, names = make_batch(cfg, tokenizer, rng, overrides, return_tasks=True)
        loss, logits = masked_loss(model, ids, mask, return_logits=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        done = step + 1
        if cur:
            rows = [r for r, n in enumerate(names) if n == "arith"]
            acc = later_digit_accuracy(logits.detach(), ids, mask, rows, tokenizer)
            accs.append(acc)
            offsets_log.append(n_offsets)
            if not math.isnan(acc):
                stage_accs.append(acc)
            new = cur.next_offsets(n_offsets, stage_accs)
            if new != n_offsets:
                n_offsets, stage_accs = new, []
                promotions.append((done, n_offsets))
        for c in cfg.stages:
            s_ = st[c.task]
            acc = later_answer_accuracy(logits.detach(), ids, mask, [r for r, n in enumerate(names) if n == c.task], tokenizer)
            s_["accs"].append(acc)
            s_["log"].append(s_["stage"])
            if not math.isnan(acc):
                s_["stage_accs"].append(acc)
            new = c.next_stage(s_["stage"], s_["stage_accs"])
            if new != s_["stage"]:
                s_["stage"], s_["stage_accs"] = new, []
                s_["moves"].append((done, new))
        if progress and done % 50 == 0:
            post = {"loss": f"{np.mean(losses[-50:]):.3f}"}
            if cur:
                post.update(offsets=n_offsets, arith_acc=f"{np.nanmean(accs[-50:]):.3f}")
            for task, s_ in st.items():
                post[task] = f"{s_['stage']}:{np.nanmean(s_['accs'][-50:]):.3f}"
            bar.set_postfix(post)
        if callback is not None and done % save_every == 0:
            info = {"n_offsets": n_offsets, "promotions": list(promotions)} if cur else {}
            if st:
                info["stages"] = {t: {"stage": s_["stage"], "moves": list(s_["moves"])} for t, s_ in st.items()}
            callback(done, model, state=snapshot(), **info)
    model.eval()
    out = {"loss": losses, "steps": done, "wall_s": time.perf_counter() - start}
    if cur:
        out.update(arith_acc=accs, n_offsets=offsets_log, promotions=promotions)
    if st:
        out["stages"] = {t: {"acc": s_["accs"], "stage": s_["log"], "moves": s_["moves"]} for t, s_ in st.items()}
    return out


@torch.no_grad()
def answer_token_loss(model, tokenizer, task_name: str, rng: np.random.Generator, n_seqs: int = 8, seq_len: int = 512, task=None) -> float:
    """Mean cross-entropy (nats) of the answer symbols (not the ``;``) over ``n_seqs`` fresh episodes.

    A learner that ignores the context and guesses uniformly among m answers scores ln m
    (ln 10 = 2.303 for arith's digits).
    """
    check_int_range("n_seqs", n_seqs, 1, None)
    stop = tokenizer.convert_tokens_to_ids(";")
    total, count = 0.0, 0
    for _ in range(n_seqs):
        ids, mask = episode_sequence(task_name, tokenizer, rng, seq_len, task=task)
        x = torch.tensor([ids])
        logits = model(input_ids=x[:, :-1], use_cache=False).logits[0]
        ce = torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="none")
        keep = torch.tensor(mask[1:], dtype=torch.bool) & (x[0, 1:] != stop)
        total += float(ce[keep].sum())
        count += int(keep.sum())
    return total / max(count, 1)
