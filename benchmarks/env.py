"""Env steps per second of ``rizzlib.kinetix`` against the official ``kinetix-env`` 3.0.2, on the paper's levels.

Both environments load the same hand-made levels of the Kinetix paper (default: one S, one M and one
L level): ours through ``rizzlib.kinetix.convert.load_kinetix_levels`` from the ``kinetix-env``
wheel (``pip download kinetix-env==3.0.2 --no-deps``; read as a zip, ``kinetix`` is never imported
here), theirs through their own ``kinetix.util.load_from_json_file``. Both use the settings the
peer's levels carry and its default agent interface, which ours is matched to: symbolic entity
observations, multi-discrete actions, ``frame_skip`` 2, ``max_timesteps`` 256,
``dense_reward_scale`` 0.1, auto-reset to the level. A measurement is ``--steps`` env steps of
``batch`` copies of the level, ``vmap`` inside ``lax.scan`` inside one ``jit``, with the same
pre-drawn uniform random multi-discrete actions in both (the scan carries the observations and sums
the rewards, so neither can be optimised away); the timed runs start where the compile run ended
and alternate between the two environments, and the best run counts (``rizzlib.core.timing``'s
rule: 0.3 s of warm-up, then at least ``--repeats`` runs and 1 s of timing each).

PPO throughput: env steps per second of one whole PPO update (rollout with the policy's forward
pass, GAE, epochs x minibatches of forward/backward and Adam) at one config, ours
(``rizzlib.kinetix.ppo.make_update`` with our entity transformer) against ``kinetix-env``'s own
``kinetix.util.learning.sample_trajectories_and_learn`` (the PPO update their ``experiments/sfl.py``
runs) with their ``ActorCriticTransformer`` at the same sizes.

``kinetix-env`` 3.0.2 pins ``jax <= 0.9`` and ``jax2d == 1.0.1``, so the peer runs in a second
virtual environment (default ``~/.cache/rizzlib/kinetix-peer-venv``), which this script creates when
missing (``python -m venv`` + ``pip install kinetix-env==3.0.2``: JAX 0.9, flax, their pins; no
torch), and talks to through ``benchmarks/_kinetix_peer_worker.py`` run there as a subprocess, one
JSON command per line; each run's time is measured inside the process that does it.

    python benchmarks/env.py                          # S, M, L levels x batch 1/256/1024, PPO on S
    python benchmarks/env.py --quick                  # batch 1 and 256, S and L, no PPO
    python benchmarks/env.py --json benchmarks/results/env.json
    python benchmarks/env.py --levels l/h4_cartpole --json benchmarks/results/env.json --merge
    python benchmarks/env.py --no-peer --profile      # where our step's time goes
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _kinetix_peer_worker as harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PEER_VERSION = "3.0.2"
DEFAULT_WHEEL = Path("/tmp/kx/kinetix_env-3.0.2-py3-none-any.whl")
DEFAULT_VENV = Path.home() / ".cache" / "rizzlib" / "kinetix-peer-venv"
DEFAULT_CACHE = Path.home() / ".cache" / "rizzlib" / "jax-compile-cache"
#: one level of each size from the paper's 74, each with a motor and a thruster or several joints
DEFAULT_LEVELS = ("s/h2_one_wheel_car", "m/h3_car_thrust", "l/h4_cartpole")
#: env steps per timed rollout at each batch when --steps is not given (about the same work per run)
DEFAULT_STEPS = {1: 64, 256: 16, 1024: 8}
#: the PPO config both sides run (our ``cpu`` preset's network and PPO sizes)
PPO_LEVELS = ("s/h2_one_wheel_car",)
WARMUP_S = 0.3
MIN_TIMED_S = 1.0


def steps_for(batch: int, steps: int | None) -> int:
    """Env steps per timed rollout: ``steps`` if given, else DEFAULT_STEPS (or 8 for other big batches)."""
    if steps is not None:
        return steps
    return DEFAULT_STEPS.get(batch, 64 if batch < 64 else 16 if batch < 512 else 8)


# ---------------------------------------------------------------------------------------------
# Levels and the wheel
# ---------------------------------------------------------------------------------------------


def ensure_wheel(path: Path) -> Path:
    """The kinetix-env 3.0.2 wheel (``pip download --no-deps`` into its folder when missing), or a
    folder / JSON file of levels, which is used as it is."""
    if path.exists():
        return path
    if path.suffix != ".whl":
        raise ValueError(f"--wheel {path} does not exist")
    print(f"downloading the kinetix-env {PEER_VERSION} wheel into {path.parent} (pip download --no-deps)",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "download", f"kinetix-env=={PEER_VERSION}", "--no-deps", "-d",
                    str(path.parent)], check=True)
    if not path.exists():
        raise ValueError(f"pip download did not produce {path}")
    return path


def load_our_level(source: Path, name: str):
    """(Level, EnvConfig) of level ``name`` (``"s/h2_one_wheel_car"``) through our converter, from a
    kinetix-env wheel or a folder of kinetix-format JSON (our ``rizzlib/kinetix/builtin_levels``)."""
    from rizzlib.kinetix.convert import load_kinetix_levels

    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as z, tempfile.TemporaryDirectory() as tmp:
            member = f"kinetix/levels/{name}.json"
            if member not in z.namelist():
                raise ValueError(f"level {name!r} is not in {source}")
            path = Path(tmp) / (name.replace("/", "_") + ".json")
            path.write_bytes(z.read(member))
            (level, config), = load_kinetix_levels(path).values()
        return level, config
    path = Path(source) / f"{name}.json" if Path(source).is_dir() else Path(source)
    (level, config), = load_kinetix_levels(path).values()
    return level, config


def our_params():
    """Our EnvParams matched to the peer levels' own ``env_params``: 256 steps, dense_reward_scale 0.1."""
    from rizzlib.kinetix import EnvParams

    return EnvParams(max_timesteps=256, dense_reward_scale=0.1)


# ---------------------------------------------------------------------------------------------
# Ours
# ---------------------------------------------------------------------------------------------


def build_ours_env(source: Path, name: str, batch: int, steps: int, seed: int = 0) -> harness.EnvRollout:
    """The timed rollout of our env on level ``name`` (entity obs, multi-discrete, the level's frame skip)."""
    from rizzlib.kinetix import KinetixEnv

    level, config = load_our_level(source, name)
    config = dataclasses.replace(config, observation="symbolic_entity", action="multi_discrete")
    env, params = KinetixEnv(config), our_params()

    def step(key, state, action, extra):
        obs, st, r, d, _ = env.step(key, state, action, params)
        return obs, st, r, d

    obs, state = env.reset(None, level, params)
    return harness.EnvRollout(step, state, obs, (), batch, steps, seed)


def profile_steps(source: Path, name: str):
    """name -> ``step`` functions that do a growing part of our env step, for ``--profile``:
    the engine alone (frame_skip physics steps), + the reward rule of every substep, + the
    observation and the end-of-episode checks (``step_env``), + the auto-reset (``step``)."""
    import jax
    import jax.numpy as jnp

    from rizzlib.jax2d import step as engine_step
    from rizzlib.kinetix import KinetixEnv
    from rizzlib.kinetix.actions import engine_actions
    from rizzlib.kinetix.reward import substep_reward

    level, config = load_our_level(source, name)
    env, params = KinetixEnv(config), our_params()
    zero = jnp.zeros((), jnp.float32)

    def physics(with_reward: bool):
        def step(key, state, action, extra):
            act = engine_actions(action, state.level, config)

            def sub(sim, _):
                sim = engine_step(sim, params.sim, config.sim, act)
                r = substep_reward(sim, state.level.roles)[0] if with_reward else zero
                return sim, r

            sim, rs = jax.lax.scan(sub, state.sim, None, length=config.frame_skip)
            return zero, state.replace(sim=sim), rs.sum(), jnp.asarray(False)
        return step

    def step_env(key, state, action, extra):
        obs, st, r, d, _ = env.step_env(state, action, params)
        return obs, st, r, d

    def full(key, state, action, extra):
        obs, st, r, d, _ = env.step(key, state, action, params)
        return obs, st, r, d

    obs, state = env.reset(None, level, params)
    parts = {"engine": physics(False), "+reward": physics(True), "+observe,done": step_env, "+auto-reset": full}
    return parts, state, obs


def run_profile(source: Path, name: str, batch: int, steps: int, repeats: int) -> list[dict]:
    """Steps/s of each growing part of our env step (``profile_steps``), timed side by side."""
    parts, state, obs = profile_steps(source, name)
    rolls = {}
    for k, step in parts.items():
        rolls[k] = harness.EnvRollout(step, state, obs, (), batch, steps)
        print(f"  profile {k:14s} compiled in {rolls[k].compile_s:.1f} s", file=sys.stderr, flush=True)
    best = harness.best_timed_seconds(rolls, repeats, WARMUP_S, MIN_TIMED_S)
    rows, prev = [], 0.0
    for k, s in best.items():
        per_step = s / (batch * steps)
        rows.append({"part": k, "level": name, "batch": batch, "sps": batch * steps / s,
                     "us_per_step": per_step * 1e6, "added_us": (per_step - prev) * 1e6})
        prev = per_step
        print(f"  profile {name} batch {batch} {k:14s} {rows[-1]['sps']:10,.0f} steps/s, {per_step * 1e6:9.1f} us "
              f"per env step (+{rows[-1]['added_us']:.1f})", file=sys.stderr, flush=True)
    return rows


def build_ours_ppo(source: Path, name: str, model: dict, ppo: dict, seed: int = 0):
    """(timed update, parameter count) of our PPO: ``make_update`` with our entity transformer."""
    import jax
    import jax.numpy as jnp

    from rizzlib.kinetix import KinetixEnv, stack_levels
    from rizzlib.kinetix.distributions import num_outputs
    from rizzlib.kinetix.models import ModelConfig, count_params, make_network
    from rizzlib.kinetix.ppo import PPOConfig, init_runner, make_update

    level, config = load_our_level(source, name)
    env, params = KinetixEnv(config), our_params()
    net = make_network(ModelConfig(**model), num_outputs(config))
    pcfg = PPOConfig(**ppo)
    runner = init_runner(jax.random.key(seed), net, env, level, pcfg)
    update = make_update(net, env, stack_levels([level]), pcfg, params)
    ids = jnp.zeros((pcfg.num_envs,), jnp.int32)
    return harness.Compiled(lambda r, i: update(r, i)[0].train_state.params, runner, ids), count_params(
        runner.train_state.params)


def ppo_settings() -> tuple[dict, dict]:
    """(model, ppo) fields of our ``cpu`` preset, the config both sides train at."""
    from rizzlib.kinetix.presets import PRESETS

    cpu = PRESETS.cpu
    model = {k: getattr(cpu.model, k) for k in ("embed", "heads", "qkv", "depth", "mlp_depth", "mlp_width")}
    return model, dataclasses.asdict(cpu.ppo)


# ---------------------------------------------------------------------------------------------
# The peer, in its own venv
# ---------------------------------------------------------------------------------------------


def ensure_peer_venv(path: Path) -> Path:
    """Python of a virtual environment holding kinetix-env 3.0.2 (created with venv + pip when missing)."""
    python = path / "bin" / "python"
    ok = python.exists() and subprocess.run([str(python), "-c", "import kinetix.environment"], capture_output=True,
                                            env={**os.environ, "JAX_PLATFORMS": "cpu"}).returncode == 0
    if not ok:
        print(f"creating the peer environment {path}: python -m venv, pip install kinetix-env=={PEER_VERSION} "
              "(it pins jax<=0.9.0 and jax2d==1.0.1; a few minutes)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"kinetix-env=={PEER_VERSION}"], check=True)
    return python


class Peer:
    """The worker (``_kinetix_peer_worker.py``) running in the peer venv; one JSON request at a time."""

    def __init__(self, python: Path, env: dict):
        worker = Path(__file__).resolve().parent / "_kinetix_peer_worker.py"
        self.proc = subprocess.Popen([str(python), str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, cwd=str(worker.parent))

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the kinetix-env worker exited (code {self.proc.poll()}) on {cmd}")
        out = json.loads(line)
        if "error" in out:
            raise RuntimeError(f"kinetix-env worker: {out['error']} (on {cmd})")
        return out

    def timed(self, **cmd):
        """(run function returning seconds, build reply) for an ``env`` or ``ppo`` command."""
        info = self.ask(**cmd)
        return (lambda: self.ask(op="run", id=info["id"])["s"]), info

    def close(self) -> None:
        try:
            self.ask(op="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        self.proc.wait(timeout=60)


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------


def _row(what: str, name: str, batch: int, steps: int, env_steps: int, runs: dict, ours, info: dict,
         repeats: int) -> dict:
    """Time ``runs`` side by side; one row with each side's env steps/s (``env_steps`` per run)."""
    best = harness.best_timed_seconds(runs, repeats, WARMUP_S, MIN_TIMED_S)
    row = {"what": what, "level": name, "size": name.split("/")[0].upper(), "batch": batch, "steps": steps,
           "ours_sps": round(env_steps / best["ours"], 1),
           "peer_sps": round(env_steps / best["peer"], 1) if "peer" in best else None,
           "ours_compile_s": round(ours.compile_s, 1), "peer_compile_s": round(info["compile_s"], 1) if info else None,
           "finite": ours.finite and info.get("finite", True)}
    row["ratio"] = round(row["ours_sps"] / row["peer_sps"], 3) if row["peer_sps"] else None
    return row


def measure_env(source: Path, peer: Peer | None, levels, batches, steps, repeats, on_row=None) -> list[dict]:
    """Rows {what: "env", level, size, batch, steps, ours_sps, peer_sps, ratio, ...}, ours and the
    peer's runs alternating; ``on_row(rows so far)`` after each row."""
    rows = []
    for name in levels:
        for b in batches:
            t = steps_for(b, steps)
            ours = build_ours_env(source, name, b, t)
            runs, info = {"ours": ours}, {}
            if peer is not None:
                runs["peer"], info = peer.timed(op="env", level=name, batch=b, steps=t)
            row = _row("env", name, b, t, b * t, runs, ours, info, repeats)
            rows.append(row)
            if on_row is not None:
                on_row(rows)
            if peer is not None:
                peer.ask(op="drop", id=info["id"])
            print(f"  env {name:22s} batch {b:5d}: ours {row['ours_sps']:10,.0f}  peer "
                  f"{row['peer_sps'] or 0:10,.0f} steps/s  ratio {row['ratio'] or float('nan'):.2f}x "
                  f"(compile {row['ours_compile_s']} / {row['peer_compile_s']} s)", file=sys.stderr, flush=True)
    return rows


def measure_ppo(source: Path, peer: Peer | None, levels, repeats, on_row=None) -> list[dict]:
    """Rows {what: "ppo", level, size, batch = num_envs, ours_sps, peer_sps, ratio, ...}: env steps per
    second of a whole PPO update at our ``cpu`` preset's sizes."""
    model, ppo = ppo_settings()
    n = ppo["num_envs"] * ppo["num_steps"]
    rows = []
    for name in levels:
        ours, ours_params = build_ours_ppo(source, name, model, ppo)
        runs, info = {"ours": ours}, {}
        if peer is not None:
            runs["peer"], info = peer.timed(op="ppo", level=name, model=model, ppo=ppo)
        row = _row("ppo", name, ppo["num_envs"], ppo["num_steps"], n, runs, ours, info, repeats)
        row.update(ours_params=ours_params, peer_params=info.get("params"), model=model, ppo=ppo)
        rows.append(row)
        if on_row is not None:
            on_row(rows)
        if peer is not None:
            peer.ask(op="drop", id=info["id"])
        print(f"  ppo {name:22s} {ppo['num_envs']} envs x {ppo['num_steps']} steps: ours {row['ours_sps']:9,.0f}  "
              f"peer {row['peer_sps'] or 0:9,.0f} env steps/s (params {ours_params:,} / {info.get('params')})",
              file=sys.stderr, flush=True)
    return rows


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def format_table(rows: list[dict]) -> str:
    lines = [f"{'what':4s} {'level':22s} {'size':4s} {'batch':>6s} {'ours steps/s':>13s} {'kinetix-env':>12s} {'ours/theirs':>11s}"]
    for r in rows:
        peer = "-" if r["peer_sps"] is None else f"{r['peer_sps']:12,.0f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:10.2f}x"
        lines.append(f"{r['what']:4s} {r['level']:22s} {r['size']:4s} {r['batch']:6d} {r['ours_sps']:13,.0f} "
                     f"{peer:>12s} {ratio:>11s}")
    return "\n".join(lines)


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` with every (what, level, batch) row measured again replaced by ``new``'s, new ones appended."""
    key = lambda r: (r.get("what", "env"), r["level"], r["batch"])  # noqa: E731
    fresh = {key(r): r for r in new}
    out = [fresh.pop(key(r), r) for r in old]
    return out + [r for r in new if key(r) in fresh]


def git_version() -> str:
    """Commit of this checkout, "+dirty" when rizzlib/ has uncommitted edits ($RIZZLIB_COMMIT overrides)."""
    if os.environ.get("RIZZLIB_COMMIT"):
        return os.environ["RIZZLIB_COMMIT"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rizzlib"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def timing(repeats: int) -> str:
    return (f"alternating runs, best of >= {repeats} runs and >= {MIN_TIMED_S:g} s per side after a {WARMUP_S:g} s "
            "warm-up; runs start where the compile run ended")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", nargs="+", default=None, help=f"level names (default {' '.join(DEFAULT_LEVELS)})")
    parser.add_argument("--batches", nargs="+", type=int, default=None, help="default 1 256 1024 (quick: 1 256)")
    parser.add_argument("--steps", type=int, default=None, help=f"env steps per timed rollout (default {DEFAULT_STEPS})")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per side, at least (default 2)")
    parser.add_argument("--quick", action="store_true", help="S and L levels, batch 1 and 256, no PPO")
    parser.add_argument("--ppo-levels", nargs="*", default=None,
                        help=f"levels for the PPO throughput (default {' '.join(PPO_LEVELS)}; none: skip)")
    parser.add_argument("--no-env", action="store_true", help="skip the env steps/s table (PPO only)")
    parser.add_argument("--json", type=Path, help="write [{level, size, batch, ours_sps, peer_sps, ratio, ...}] here")
    parser.add_argument("--merge", action="store_true", help="replace the measured rows inside an existing --json file")
    parser.add_argument("--wheel", type=Path, default=DEFAULT_WHEEL,
                        help="kinetix-env wheel (downloaded when missing) or a folder of kinetix JSON levels for ours")
    parser.add_argument("--peer-venv", type=Path, default=DEFAULT_VENV, help="venv for kinetix-env (created if missing)")
    parser.add_argument("--no-peer", action="store_true", help="time rizzlib.kinetix only")
    parser.add_argument("--compile-cache", type=Path, default=DEFAULT_CACHE,
                        help="JAX persistent compilation cache of both processes (compiles are not timed)")
    parser.add_argument("--no-compile-cache", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also time the parts of our step (engine, reward, ...)")
    args = parser.parse_args(argv)
    levels = args.levels or ([DEFAULT_LEVELS[0], DEFAULT_LEVELS[2]] if args.quick else list(DEFAULT_LEVELS))
    batches = args.batches or ([1, 256] if args.quick else [1, 256, 1024])
    ppo_levels = ([] if args.quick else list(PPO_LEVELS)) if args.ppo_levels is None else args.ppo_levels
    for b in batches:
        if b < 1:
            parser.error(f"--batches must be >= 1; got {b}")
    if (args.steps is not None and args.steps < 1) or args.repeats < 1:
        parser.error(f"--steps and --repeats must be >= 1; got {args.steps}, {args.repeats}")
    for name in levels + ppo_levels:
        if name.split("/")[0] not in ("s", "m", "l") or "/" not in name:
            parser.error(f"level names look like 's/h2_one_wheel_car' (size s, m or l); got {name!r}")

    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    if not args.no_compile_cache:
        args.compile_cache.mkdir(parents=True, exist_ok=True)
        env["JAX_COMPILATION_CACHE_DIR"] = str(args.compile_cache / "peer")  # one folder per JAX version
        os.environ["JAX_COMPILATION_CACHE_DIR"] = str(args.compile_cache / "ours")
    import jax

    source = ensure_wheel(args.wheel)
    peer, versions, where = None, None, "not run"
    if not args.no_peer:
        python = ensure_peer_venv(args.peer_venv)
        peer = Peer(python, env)
        versions = peer.ask(op="hello")
        where = f"subprocess in the venv {args.peer_venv} (kinetix-env pins jax<=0.9)"
    print(f"ours: rizzlib {git_version()}, jax {jax.__version__}; peer: "
          f"{'kinetix-env ' + versions['kinetix-env'] + ', jax ' + versions['jax'] + ', jax2d ' + versions['jax2d'] if versions else 'not run'}"
          f" ({where}); {os.cpu_count()} CPU threads; {timing(args.repeats)}", file=sys.stderr, flush=True)
    meta = {"rizzlib": git_version(), "jax": jax.__version__,
            "peer": f"kinetix-env {versions['kinetix-env']} (jax {versions['jax']}, jax2d {versions['jax2d']})"
            if versions else None, "peer_where": where, "cpu_threads": os.cpu_count(), "machine": platform.machine(),
            "repeats": args.repeats, "timing": timing(args.repeats),
            "settings": "symbolic_entity obs, multi_discrete uniform random actions, frame_skip 2, "
                        "max_timesteps 256, dense_reward_scale 0.1, auto-reset to the level"}
    old = json.loads(args.json.read_text()) if args.json and args.merge and args.json.exists() else []

    def save(new_rows: list[dict]) -> None:  # after every row, so a run cut short keeps what it measured
        if args.json:
            date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
            args.json.parent.mkdir(parents=True, exist_ok=True)
            out = merge_rows(old, [{**r, "date": r.setdefault("date", date), **meta} for r in new_rows])
            args.json.write_text(json.dumps(out, indent=1) + "\n")

    try:
        rows = [] if args.no_env else measure_env(source, peer, levels, batches, args.steps, args.repeats, save)
        rows += measure_ppo(source, peer, ppo_levels, args.repeats, lambda r: save(rows + r))
    finally:
        if peer is not None:
            peer.close()
    print(f"\nrizzlib.kinetix vs kinetix-env {versions['kinetix-env'] if versions else '(not run)'} ({where});"
          " env steps/s; symbolic entity obs, multi-discrete random actions, frame_skip 2")
    print(format_table(rows))
    profile = []
    if args.profile:
        for name in levels[:1]:
            for b in batches:
                profile += run_profile(source, name, b, steps_for(b, args.steps), args.repeats)
        print("\nwhere our env step's time goes (each row adds a part; us = microseconds per env step per env):")
        for r in profile:
            print(f"  {r['level']:22s} batch {r['batch']:5d} {r['part']:14s} {r['sps']:10,.0f} steps/s "
                  f"{r['us_per_step']:9.1f} us  (+{r['added_us']:.1f})")
    if args.json:
        save(rows)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
