"""Plots and verdict sentences generated from the numbers (nothing typed by hand).

Each ``*_verdict`` returns one sentence comparing our measurement with the paper's, choosing its
words from the numbers, so the notebook's prose stays true when a rerun changes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rizzlib.core.validate import check_range


def mean_and_sem(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean along ``axis`` (seeds)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[axis]
    sem = x.std(axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(x.mean(axis=axis))
    return x.mean(axis=axis), sem


def plot_curves(ax, xs: Sequence[float], curves: Mapping[str, np.ndarray], xlabel: str, ylabel: str, logx: bool = True, title: str = ""):
    """One line with a +-1 SEM band per entry of ``curves`` (values of shape (len(xs), seeds))."""
    for label, vals in curves.items():
        m, e = mean_and_sem(vals)
        ax.errorbar(xs, m, yerr=e, marker="o", ms=3, capsize=2, label=label)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def selection_verdict(wins: int, total: int, paper_wins: int = 18, paper_total: int = 216) -> str:
    """Compare our share of significant wins over Random with the paper's (18 of 216)."""
    ours, theirs = wins / total, paper_wins / paper_total
    if ours <= 0.15:
        tail = f"like the paper ({paper_wins} of {paper_total}, {100 * theirs:.0f} %), selection rarely beats Random"
    else:
        tail = f"more often than the paper's {paper_wins} of {paper_total} ({100 * theirs:.0f} %): here selection does matter in some settings"
    return f"{wins} of {total} comparisons ({100 * ours:.0f} %) are significant wins over Random; {tail}."


def noise_tolerance(fractions: Sequence[float], relative: Sequence[float], keep: float = 0.95) -> float:
    """The largest noise fraction up to which the relative accuracy stays >= ``keep`` (0 when even the first drops)."""
    check_range("keep", keep, 0.0, 1.0)
    ok = 0.0
    for r, v in zip(fractions, relative):
        if v < keep:
            break
        ok = float(r)
    return ok


def noise_verdict(learner: str, tolerance: float, paper: float = 0.25, base: float | None = None) -> str:
    """Where the learner starts to degrade, against the paper's ~25 % (``base``: its noise-free score)."""
    if base is not None and base < 0.2:
        return (f"The {learner} scores only {base:.2f} without noise, so its noise curve says little "
                f"(it stays within 5 % up to {100 * tolerance:.0f} % noise).")
    if tolerance >= paper:
        rel = "at or beyond" if tolerance > paper else "at"
        return f"The {learner} keeps >= 95 % of its noise-free score up to {100 * tolerance:.0f} % noise, {rel} the paper's ~{100 * paper:.0f} %."
    if tolerance == 0:
        return f"The {learner} loses more than 5 % at the first noise level already, earlier than the paper's ~{100 * paper:.0f} %."
    return f"The {learner} keeps >= 95 % of its noise-free score only up to {100 * tolerance:.0f} % noise, less than the paper's ~{100 * paper:.0f} %."


def augment_verdict(learner: str, base: float, filtered: float, unfiltered: float, paper_rel: float = 0.047) -> str:
    """The relative gain of originals + filtered synthetic over originals only, against the paper's +4.7 %."""
    rel = (filtered - base) / base if base > 0 else float("nan")
    filt = "beats" if filtered > unfiltered else "does not beat"
    if round(100 * rel, 1) == 0:
        change = "changes the score by less than 0.1 % relative"
    else:
        change = f"{'gains' if rel > 0 else 'loses'} {100 * abs(rel):.1f} % relative"
    return (
        f"For the {learner}, adding the filtered synthetic demos {change} "
        f"(paper: +{100 * paper_rel:.1f} %), and filtering {filt} adding unfiltered ones."
    )


def speedup_verdict(speedup: float, prefix_tokens: int, target: float = 20.0) -> str:
    """The cache speed-up at the largest prefix against the issue's target (>= 20x)."""
    met = "meets" if speedup >= target else "falls short of"
    return f"At a {prefix_tokens}-token prefix the cache scores queries {speedup:.1f}x faster, which {met} the {target:.0f}x target."


def order_verdict(n_significant: int, n_comparisons: int, spread_many: float, many_k: int, paper_spread: float = 0.009) -> str:
    """How much demonstration order matters (paired tests against random order), against Table 3.

    ``spread_many`` is the largest gap between the mean scores of two orders at ``many_k`` shots;
    the paper's orders lie within ``paper_spread`` of each other (reasoning, the widest). The verdict
    follows the tests: a gap in means that no test finds significant is seed-to-seed noise.
    """
    share = n_significant / n_comparisons if n_comparisons else 0.0
    head = (f"{n_significant} of {n_comparisons} comparisons with random order ({100 * share:.0f} %) are significant "
            f"(paired t-test over seeds, p < 0.05); at {many_k} shots the mean scores of the orders lie within "
            f"{spread_many:.3f} of each other (paper, Table 3: within {paper_spread:.3f})")
    if share > 0.15:
        return head + ": unlike the paper, order does matter in some settings here."
    if spread_many > max(3 * paper_spread, 0.03):
        return head + (": no order is reliably better or worse than random, as in the paper, though with this few seeds "
                       "and queries the noise in our means is wider than the paper's gaps.")
    return head + ": as in the paper, order barely matters once many demonstrations are given."


def inflation_verdict(learner: str, task: str, trained_pct: float, rep_in: float, rep_full: float, dist_in: float, dist_full: float) -> str:
    """What filling the whole window does, separating length (past the trained length) from repetition.

    ``*_in``: score at ``trained_pct`` % of the window (the largest share inside the training length);
    ``*_full``: at the full window. A change of more than 0.02 counts.
    """
    def move(a: float, b: float) -> str:
        return f"from {a:.2f} to {b:.2f}"

    drop_rep, drop_dist = rep_in - rep_full, dist_in - dist_full
    text = (f"For the {learner} on {task}, going from {trained_pct:.0f} % of the window (inside its training length) to all "
            f"of it moves the score {move(rep_in, rep_full)} with repeated demos and {move(dist_in, dist_full)} with distinct ones")
    if drop_rep > 0.02 and drop_dist > 0.02:
        text += ": both fall, so the loss comes with the length itself, not with repetition."
    elif drop_rep > 0.02:
        text += ": only the repeated prompt falls, so repetition, not length, hurts."
    elif drop_dist > 0.02:
        text += ": only the distinct prompt falls, so the longer context hurts even without repeats."
    else:
        text += ": neither falls by more than 0.02."
    gap = dist_in - rep_in
    if abs(gap) > 0.02:
        text += f" Inside the training length, distinct demos score {gap:+.2f} against repeats."
    return text


def probe_verdict(variants: Mapping[str, tuple[float, float, float]], uniform: float, margin: float = 0.1) -> str:
    """One clause per arithmetic variant: (first loss, last loss, late accuracy) -> learned or not.

    A variant counts as learned when its last digit loss is more than ``margin`` nats below ``uniform``
    (ln 10 for digits).
    """
    parts = []
    for name, (first, last, acc) in variants.items():
        state = "learned" if last < uniform - margin else "stuck at uniform guessing"
        parts.append(f"`{name}`: digit loss {first:.2f} -> {last:.2f} nats, accuracy {acc:.2f} ({state})")
    return "; ".join(parts) + f" (uniform guessing: {uniform:.3f} nats, accuracy 0.10)."


def probe_conclusion(variants: Mapping[str, tuple[float, float, float]], uniform: float, shipped: str, margin: float = 0.1) -> str:
    """What the arithmetic probe shows, from its numbers: does a variant with partial credit leave the
    ln 10 plateau where the shipped rule does not? Keys of ``variants`` starting with ``shipped`` are
    the shipped rule; values are (first loss, last loss, late accuracy)."""
    learned = {n for n, (_, last, _) in variants.items() if last < uniform - margin}
    shipped_learned = any(n.startswith(shipped) for n in learned)
    others = sorted(n for n in learned if not n.startswith(shipped))
    if others and not shipped_learned:
        return (f"{', '.join(f'`{n}`' for n in others)} left the plateau within the probe's budget while the shipped rule "
                "did not: the missing partial credit, not the size of the model, is what holds it back.")
    if shipped_learned:
        return "The shipped rule did leave the plateau in the probe, so with more steps the checkpoint could learn it too."
    return ("No variant left the plateau within the probe's budget on this shared machine, not even plain addition, so "
            "the probe cannot separate the explanations. What it does show is that every variant first sits at ln 10 for "
            "hundreds of steps, so a plateau there is no sign of a bug in the data path; the argument above rests on the "
            "loss analysis and the copy bound.")


def table2_verdict(wins: Mapping[str, tuple[int, int]], gaps: Mapping[str, float], k: int, learner: str,
                   paper: Mapping[str, Mapping[str, float]]) -> str:
    """Table 2's newer selectors against Random: significant wins and the mean gaps at ``k`` shots.

    ``wins[method]`` = (significant wins over Random, comparisons); ``gaps[method]`` = mean score
    minus Random's at ``k`` shots for ``learner``; ``paper`` = the paper's Table 2 averages (per task
    type, per method, including ``random``), whose largest gap to Random is the yardstick.
    """
    total_w, total_n = sum(w for w, _ in wins.values()), sum(n for _, n in wins.values())
    if total_n == 0:
        raise ValueError("wins must hold at least one comparison")
    yard = max(abs(v[m] - v["random"]) for v in paper.values() for m in v)
    per = ", ".join(f"{m} {w}/{n}" for m, (w, n) in wins.items())
    share = total_w / total_n
    s = (f"The newer selectors beat Random significantly in {total_w} of {total_n} comparisons "
         f"({100 * share:.0f} %: {per}), " + ("as rarely as the paper's selectors do" if share <= 0.15 else "more often than the paper's 8 %"))
    s += f". At {k} shots the {learner}'s mean gaps to Random are " + ", ".join(f"{m} {g:+.3f}" for m, g in gaps.items())
    above = [m for m, g in gaps.items() if g > yard]
    below = [m for m, g in gaps.items() if g < -yard]
    if not above and not below:
        return s + f", all within the paper's largest Table 2 gap ({yard:.3f})."
    parts = []
    if above:
        parts.append(f"{', '.join(above)} lead{'s' if len(above) == 1 else ''} by more than the paper's largest Table 2 gap ({yard:.3f})")
    if below:
        ref = "it" if above else f"the paper's largest Table 2 gap ({yard:.3f})"
        parts.append(f"{', '.join(below)} trail{'s' if len(below) == 1 else ''} by more than {ref}")
    return s + "; " + " and ".join(parts) + "."


def plateau_exit(steps: Sequence[int], losses: Sequence[float], uniform: float, margin: float = 0.1) -> int | None:
    """The first logged step whose loss is more than ``margin`` below ``uniform`` (None: never)."""
    if len(steps) != len(losses):
        raise ValueError(f"steps and losses must have the same length; got {len(steps)} and {len(losses)}")
    return next((int(s) for s, v in zip(steps, losses) if v < uniform - margin), None)


def long_probe_verdict(name: str, steps: Sequence[int], losses: Sequence[float], wall_s: float, uniform: float, margin: float = 0.1) -> str:
    """Did the longest probe run of ``name`` leave the ln 10 plateau? One sentence from its curve."""
    if not losses:
        raise ValueError("losses must hold at least one logged value")
    head = f"The longest probe trained `{name}` for {int(steps[-1]):,} steps ({wall_s / 60:.0f} min on one shared core)"
    exit_step = plateau_exit(steps, losses, uniform, margin)
    if exit_step is None:
        return (f"{head}; its digit loss ended at {losses[-1]:.3f} nats (lowest {min(losses):.3f}), never more than "
                f"{margin:g} below ln 10 = {uniform:.3f}: it did not leave the plateau.")
    return (f"{head}; it left the plateau at step {exit_step:,} (loss below {uniform - margin:.2f} nats) and ended at "
            f"{losses[-1]:.3f} nats.")


def curriculum_verdict(
    steps: int,
    wall_s: float,
    promotions: Sequence[Sequence[int]],
    n_offsets: int,
    shots: Sequence[int],
    full: Sequence[float],
    stage: Sequence[float] | None = None,
    chance: float = 0.1,
    margin: float = 0.1,
) -> str:
    """What the offset curriculum achieved, in sentences generated from its record.

    Args:
        steps, wall_s: training steps and wall time.
        promotions: (step, new offset count) pairs; ``n_offsets`` the count it ended with.
        shots, full: the model's accuracy per shot count on the full task (10 offsets).
        stage: the same on the offsets it reached (needed when ``n_offsets < 10``).
    """
    if len(shots) != len(full) or (stage is not None and len(stage) != len(shots)):
        raise ValueError("shots, full and stage must have the same length")
    if n_offsets < 10 and stage is None:
        raise ValueError("stage (the accuracy on the offsets reached) is needed when n_offsets < 10")
    head = f"With the curriculum the small Llama trained for {int(steps):,} steps ({wall_s / 60:.0f} min on one shared core)"
    if not promotions:
        out = [f"{head} and never mastered c = 0 well enough to widen the offset range."]
    else:
        out = [f"{head}; the offset range widened {len(promotions)} times (first at step {int(promotions[0][0]):,}, "
               f"last at step {int(promotions[-1][0]):,}), ending at {n_offsets} of 10 offsets."]
    with_demos = [(a, k) for a, k in zip(full, shots) if k > 0]
    best, best_k = max(with_demos) if with_demos else (float("nan"), 0)
    zero = full[list(shots).index(0)] if 0 in shots else float("nan")
    if best >= chance + margin and n_offsets == 10:
        out.append(f"On the full task it scores {best:.2f} at {best_k} shots against {zero:.2f} with no demonstrations "
                   f"and chance {chance:.2f}: it learned offset arithmetic in context.")
    elif best >= chance + margin:
        out.append(f"On the full task (10 offsets) it scores {best:.2f} at {best_k} shots against {zero:.2f} with no "
                   f"demonstrations and chance {chance:.2f}; the {10 - n_offsets} offsets it never trained on "
                   f"(c >= {n_offsets}) are {(10 - n_offsets) / 10:.0%} of the episodes there.")
    else:
        out.append(f"On the full task (10 offsets) it stays within {margin:g} of chance ({chance:.2f}): "
                   f"{best:.2f} at best, at {best_k} shots.")
    if n_offsets < 10:
        s_with = [(a, k) for a, k in zip(stage, shots) if k > 0]
        s_best, s_k = max(s_with) if s_with else (float("nan"), 0)
        s_zero = stage[list(shots).index(0)] if 0 in shots else float("nan")
        if n_offsets == 1:
            out.append(f"On c = 0 alone (plain addition) it scores {s_best:.2f} at {s_k} shots.")
        else:
            blind = 1.0 / n_offsets
            reads = s_best >= blind + margin
            out.append(f"On the {n_offsets} offsets it reached, where adding without reading the offset scores "
                       f"1/{n_offsets} = {blind:.2f}, it scores {s_best:.2f} at {s_k} shots (no demonstrations: {s_zero:.2f}): "
                       + ("it reads the offset from the demonstrations." if reads else "it does not read the offset yet."))
    return " ".join(out)


def _at(shots: Sequence[int], acc: Sequence[float], keep) -> list[tuple[int, float]]:
    return [(int(k), float(a)) for k, a in zip(shots, acc) if keep(k)]


def shots_verdict(task: str, shots: Sequence[int], model: Sequence[float], ideal: Sequence[float], chance: float,
                  learner: str = "the small Llama", margin: float = 0.1) -> str:
    """Neural against ideal learner along the shot axis, in sentences generated from the two curves.

    Args:
        task: the task's name, as printed.
        shots: shot counts (ascending, at least one above 0); ``model``, ``ideal``: accuracy at each.
        chance: accuracy of guessing; ``margin``: what counts as a difference.
    """
    if len(shots) != len(model) or len(shots) != len(ideal):
        raise ValueError("shots, model and ideal must have the same length")
    if list(shots) != sorted(shots) or max(shots, default=0) < 1:
        raise ValueError(f"shots must be ascending with at least one above 0; got {list(shots)}")
    with_demos = _at(shots, model, lambda k: k > 0)
    best_k, best = max(with_demos, key=lambda ka: (ka[1], -ka[0]))
    last_k, last = with_demos[-1]
    ideal_last = float(ideal[-1])
    perfect = [k for k, a in _at(shots, ideal, lambda k: k > 0) if a >= 0.99]
    zero = f"{model[list(shots).index(0)]:.2f} with no demonstrations" if 0 in shots else f"{with_demos[0][1]:.2f} at {with_demos[0][0]} shots"
    ideal_part = (f"the ideal learner is perfect from {perfect[0]} shot{'s' if perfect[0] > 1 else ''}" if perfect
                  else f"the ideal learner reaches {ideal_last:.2f} at {last_k} shots")
    out = f"On {task}, {learner} goes from {zero} to {last:.2f} at {last_k} shots; {ideal_part}"
    if best < chance + margin:
        return out + f". The neural learner stays within {margin:g} of chance ({chance:.2f}) at every shot count: it does not learn {task} in context."
    if last < best - margin:
        return out + (f". The neural learner peaks at {best:.2f} with {best_k} shot{'s' if best_k > 1 else ''} and loses {best - last:.2f} by {last_k}: "
                      "more demonstrations than it was trained to read hurt it.")
    gap = ideal_last - last
    shape = (f"is at its best at {last_k} shots" if best_k == last_k else
             f"reaches its best, {best:.2f}, at {best_k} shot{'s' if best_k > 1 else ''} and stays within {margin:g} of it up to {last_k} shots")
    return out + (f". The neural learner {shape}; the gap to the ideal learner there is {gap:.2f}"
                  + (": what a small, briefly trained model leaves on the table." if gap >= margin else "."))


def many_shot_verdict(shots: Sequence[int], short: Sequence[float], long: Sequence[float], ideal: Sequence[float],
                      fit_short: int, fit_long: int, n_offsets: int, chance: float = 0.1, margin: float = 0.1) -> str:
    """What training on longer sequences changed, from the two models' shot curves on the full task.

    Args:
        shots: shot counts (ascending); ``short``, ``long``, ``ideal``: accuracy at each of the model
            trained on ``fit_short`` demos per sequence, the one trained on ``fit_long``, and the ideal learner.
        n_offsets: offsets the long model's curriculum reached (10: all).
    """
    if not len(shots) == len(short) == len(long) == len(ideal):
        raise ValueError("shots, short, long and ideal must have the same length")
    if not 0 < fit_short < fit_long:
        raise ValueError(f"need 0 < fit_short < fit_long; got fit_short={fit_short}, fit_long={fit_long}")
    out = []
    past_old = _at(shots, long, lambda k: fit_short < k <= fit_long)
    past_old_short = dict(_at(shots, short, lambda k: fit_short < k <= fit_long))
    inside = _at(shots, long, lambda k: 0 < k <= fit_long)
    ideal_inside = [a for _, a in _at(shots, ideal, lambda k: 0 < k <= fit_long)]
    if inside:
        out.append(f"Trained on {fit_long} demonstrations per sequence instead of {fit_short}, the arith model scores "
                   f"{min(a for _, a in inside):.2f} to {max(a for _, a in inside):.2f} from {inside[0][0]} to {inside[-1][0]} shots "
                   f"on the full task, against the ideal learner's {min(ideal_inside):.2f} to {max(ideal_inside):.2f}.")
    if past_old:
        held = min(a for _, a in past_old) >= chance + margin
        fell = [k for k, _ in past_old if past_old_short[k] < chance + margin]
        pairs = ", ".join(f"{a:.2f} at {k}" for k, a in past_old)
        olds = ", ".join(f"{past_old_short[k]:.2f}" for k, _ in past_old)
        verb = (f"it holds where the short model falls to chance (at {', '.join(map(str, fell))} shots)" if held and fell
                else "it holds past the old training length, as the short model does there" if held
                else "it still fails past the old training length")
        out.append(f"Past {fit_short} shots it scores {pairs} shots, where the model trained on {fit_short} scores {olds}: {verb}.")
    beyond = _at(shots, long, lambda k: k > fit_long)
    if beyond:
        best_in = max((a for _, a in inside), default=chance)
        pairs = ", ".join(f"{a:.2f} at {k}" for k, a in beyond)
        worst = min(a for _, a in beyond)
        tail = ("it falls to chance beyond the length it was trained on, as the short model did." if worst < chance + margin
                else f"it loses {best_in - worst:.2f} beyond the length it was trained on." if worst < best_in - margin
                else "it carries the rule beyond the length it was trained on.")
        out.append(f"Beyond its {fit_long} trained demonstrations it scores {pairs} shots: {tail}")
    if n_offsets >= 10:
        out.append("Its curriculum reached all 10 offsets.")
    else:
        out.append(f"Its curriculum reached {n_offsets} of 10 offsets, so {(10 - n_offsets) / 10:.0%} of the full task's "
                   f"episodes use an offset it never trained on.")
    return " ".join(out)


def plot_curriculum(ax, acc_every_50: Sequence[float], promotions: Sequence[Sequence[int]], start: int, threshold: float):
    """A curriculum run's training accuracy (every 50 steps) and, on a twin axis, its offset count.

    ``promotions`` are (step, new offset count) pairs, ``start`` the offsets before the first.
    Returns the twin axis.
    """
    stages = [start] * len(acc_every_50)
    for step, n in promotions:
        for i in range(int(step) // 50, len(stages)):
            stages[i] = n
    x50 = [50 * (i + 1) for i in range(len(acc_every_50))]
    ax.plot(x50, acc_every_50, color="C0", label="answer digits after the first demo (training batches)")
    ax.axhline(threshold, color="C0", ls=":", lw=1, label="threshold that widens the range")
    ax.set_xlabel("training step")
    ax.set_ylabel("training accuracy")
    ax.set_ylim(0, 1.02)
    twin = ax.twinx()
    twin.step(x50, stages, where="post", color="C3", label="offsets in the range")
    twin.set_ylabel("offsets n (c in 0..n-1)", color="C3")
    twin.set_ylim(0, 10.5)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return twin


def _stage_text(stage: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in stage.items())


def stages_verdict(task: str, steps: int, wall_s: float, moves: Sequence[Sequence[int]], stages: Sequence[dict],
                   shots: Sequence[int], before: Sequence[float], after: Sequence[float], ideal: Sequence[float],
                   margin: float = 0.1, start: int = 0, base: str = "the model it started from") -> str:
    """What a :class:`~rizzlib.icl.train.StageCurriculum` run did for ``task``, in sentences from its record.

    Args:
        steps, wall_s: training steps and wall time of the staged run.
        moves: (step, new stage) pairs; ``stages``: each stage's task settings, the last the full task.
        shots: shot counts (ascending); ``before``, ``after``, ``ideal``: exact match on the full task at
            each, of the model it started from, of the staged model, and of the ideal learner.
        start: the stage the run began at (0-based; a run that goes on from a staged one begins later).
        base: how to name the model ``before`` belongs to.
    """
    if not (len(shots) == len(before) == len(after) == len(ideal)):
        raise ValueError("shots, before, after and ideal must have the same length")
    if not stages:
        raise ValueError("stages must not be empty")
    reached = int(moves[-1][1]) if moves else start
    if not 0 <= reached < len(stages):
        raise ValueError(f"moves end at stage {reached}, outside the {len(stages)} stages")
    head = f"Trained in stages for {int(steps):,} steps ({wall_s / 60:.0f} min on one shared core), {task}"
    if moves:
        head += (f" moved on {len(moves)} time{'s' if len(moves) > 1 else ''} (at step{'s' if len(moves) > 1 else ''} "
                 f"{', '.join(f'{int(s):,}' for s, _ in moves)})")
    else:
        head += f" never mastered its {'first ' if start == 0 else ''}stage well enough to move on"
    full = reached == len(stages) - 1
    out = [head + f", ending at stage {reached + 1} of {len(stages)} ({_stage_text(stages[reached])}"
           + ("; the full task)." if full else f"; the full task is {_stage_text(stages[-1])}).")]
    k, b, a, i = shots[-1], float(before[-1]), float(after[-1]), float(ideal[-1])
    out.append(f"On the full task at {k} shots it scores {a:.2f}, against {b:.2f} for {base} and {i:.2f} for the ideal learner")
    if a >= b + margin:
        out[-1] += (f": the stages made it learn {task} in context" + (f", {i - a:.2f} short of the ideal learner." if i - a >= margin
                                                                         else ", close to the ideal learner."))
    elif a <= b - margin:
        out[-1] += ": worse than before the stages."
    else:
        out[-1] += f": within {margin:g} of where it started, so the stages did not help at this budget."
    return " ".join(out)


def lookup_verdict(task: str, by_model: dict[str, dict[int, tuple[int, int]]]) -> str:
    """Look-up accuracy by position (from :func:`rizzlib.icl.diagnose.lookup_accuracy_by_position`), per model, in sentences.

    ``by_model`` maps a model's name to {position: (right, scored)}.
    """
    what = {"cipher": "symbol index in the word", "keycls": "key position among the input tokens"}.get(task)
    if what is None:
        raise ValueError(f"task must be 'cipher' or 'keycls'; got {task!r}")
    parts = []
    for name, counts in by_model.items():
        right, scored = sum(h for h, _ in counts.values()), sum(n for _, n in counts.values())
        if not scored:
            raise ValueError(f"{name}: nothing was scored")
        by_pos = ", ".join(f"{h / n:.2f}" for h, n in counts.values() if n)
        parts.append(f"{name} {right / scored:.2f} ({by_pos} by {what} {min(counts)} to {max(counts)})")
    return (f"On the {task} answer symbols a perfect in-context learner knows (shown earlier in the same sequence), "
            "the teacher-forced accuracy is: " + "; ".join(parts) + ".")
