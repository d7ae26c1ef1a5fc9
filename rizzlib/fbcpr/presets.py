"""Configurations of FB / FB-CPR on the four-room point mass, per scale (spec §5.1, §3.8)."""

from __future__ import annotations

import dataclasses

from rizzlib.core.scale import Presets

ALGOS = ("fbcpr", "fb")


@dataclasses.dataclass(frozen=True)
class FBCPRConfig:
    """Everything one training run needs. Units: steps are control steps (dt = 0.1 s).

    Attributes:
        algo: ``"fbcpr"`` (FB + conditional policy regularisation) or ``"fb"`` (plain online FB).
        env: ``"pointmass"`` (four rooms, ``smoke`` / ``cpu``) or ``"walker"`` (MJX biped, ``gpu``).
        init: start regime, ``"fixed"`` (room 1 only) or ``"data"`` (80% dataset states).
        episode_len: H, steps per episode (truncation, discount kept).
        n_motions, motion_len, test_fraction: the scripted dataset and its held-out share.
        z_dim: d, latent dimension; z lives on the sphere of radius √d.
        width, trunk: F / actor / critic embedding width and trunk layers.
        b_width, b_layers: backward map width and hidden layers.
        disc_width, disc_layers: discriminator width and hidden layers.
        heads: K, ensemble size of F and Q_D.
        batch: n, transitions per update (a multiple of seq_len).
        gamma: discount in (0, 1).
        seq_len: L, dataset segment length encoded into one z.
        n_envs, env_steps_per_iter, updates_per_iter: each iteration steps every env
            ``env_steps_per_iter`` times, then takes ``updates_per_iter`` gradient updates.
        n_updates: gradient updates per run (after the random-action phase).
        random_iters: iterations of uniform random actions before any update.
        buffer_size: replay capacity (transitions, FIFO).
        lr_f, lr_b, lr_actor, lr_critic, lr_disc: Adam learning rates.
        ortho_coef, q_loss_coef: weights of the orthonormality and auxiliary Q losses.
        alpha, scale_reg: CPR weight α and whether it is scaled by mean|Q_fb|.
        gp_coef: gradient-penalty weight λ_GP.
        goal_ratio, expert_ratio: shares of goal- and expert-encoded z in the training mix (rest
            uniform); plain FB uses goal_ratio only.
        relabel_ratio: probability that an online row's stored z is replaced by the mixed z.
        tau_fb, tau_critic: Polyak rates of the target networks.
        actor_std, noise_clip: exploration / target-smoothing noise.
        lam_fb, lam_actor, lam_critic: ensemble pessimism λ for the FB target, actor and critic target.
        z_every: rollout z is resampled when an env's time index is a multiple of this.
        zbuffer_size: capacity of the FIFO of training z's that rollouts draw from.
        seed: seeds the dataset, the network init and every random draw.
    """

    algo: str = "fbcpr"
    env: str = "pointmass"
    init: str = "fixed"
    episode_len: int = 200
    n_motions: int = 300
    motion_len: int = 150
    test_fraction: float = 0.2
    z_dim: int = 32
    width: int = 256
    trunk: int = 1
    b_width: int = 128
    b_layers: int = 1
    disc_width: int = 256
    disc_layers: int = 2
    heads: int = 2
    batch: int = 256
    gamma: float = 0.99
    seq_len: int = 8
    n_envs: int = 32
    env_steps_per_iter: int = 8
    updates_per_iter: int = 16
    n_updates: int = 10_000
    random_iters: int = 40
    buffer_size: int = 200_000
    lr_f: float = 3e-4
    lr_b: float = 1e-4
    lr_actor: float = 3e-4
    lr_critic: float = 3e-4
    lr_disc: float = 1e-4
    ortho_coef: float = 1.0
    q_loss_coef: float = 0.0
    alpha: float = 0.05
    scale_reg: bool = True
    gp_coef: float = 10.0
    goal_ratio: float = 0.2
    expert_ratio: float = 0.6
    relabel_ratio: float = 0.8
    tau_fb: float = 0.01
    tau_critic: float = 0.005
    actor_std: float = 0.2
    noise_clip: float = 0.3
    lam_fb: float = 0.0
    lam_actor: float = 0.5
    lam_critic: float = 0.5
    z_every: int = 50
    zbuffer_size: int = 10_000
    seed: int = 0

    def __post_init__(self):
        from rizzlib.core.validate import check_choice, check_int_range, check_range

        check_choice("algo", self.algo, ALGOS)
        check_choice("env", self.env, ("pointmass", "walker"))
        check_choice("init", self.init, ("fixed", "data"))
        for name in ("episode_len", "n_motions", "z_dim", "width", "trunk", "b_width", "b_layers", "disc_width",
                     "disc_layers", "heads", "seq_len", "n_envs", "env_steps_per_iter", "updates_per_iter",
                     "n_updates", "buffer_size", "z_every", "zbuffer_size"):
            check_int_range(name, getattr(self, name), 1)
        check_int_range("random_iters", self.random_iters, 0)
        check_int_range("motion_len", self.motion_len, self.seq_len + 1)
        check_int_range("batch", self.batch, max(2, self.seq_len))
        if self.batch % self.seq_len:
            raise ValueError(f"batch must be a multiple of seq_len={self.seq_len}; got {self.batch}")
        if self.width % 2:
            raise ValueError(f"width must be even (embeddings output width/2); got {self.width}")
        check_range("gamma", self.gamma, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        check_range("test_fraction", self.test_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
        for name in ("lr_f", "lr_b", "lr_actor", "lr_critic", "lr_disc"):
            check_range(name, getattr(self, name), 0.0, 1.0, low_inclusive=False)
        for name in ("ortho_coef", "q_loss_coef", "alpha", "gp_coef", "actor_std", "noise_clip",
                     "lam_fb", "lam_actor", "lam_critic"):
            check_range(name, getattr(self, name), 0.0)
        for name in ("goal_ratio", "expert_ratio", "relabel_ratio", "tau_fb", "tau_critic"):
            check_range(name, getattr(self, name), 0.0, 1.0)
        if self.goal_ratio + self.expert_ratio > 1.0:
            raise ValueError(f"goal_ratio + expert_ratio must be <= 1; got {self.goal_ratio} + {self.expert_ratio}")
        if self.q_loss_coef > 0 and self.batch < self.z_dim:
            raise ValueError(f"the auxiliary Q loss needs batch >= z_dim; got {self.batch} < {self.z_dim}")

    @property
    def use_cpr(self) -> bool:
        return self.algo == "fbcpr"

    @property
    def total_iters(self) -> int:
        """Iterations of one run: the random phase plus ceil(n_updates / updates_per_iter)."""
        return self.random_iters + -(-self.n_updates // self.updates_per_iter)

    def as_fb(self) -> FBCPRConfig:
        """The plain-FB ablation with the same budget: α = 0, no discriminator, FB's z mix
        (half goal encodings, half uniform), every row relabelled."""
        return dataclasses.replace(self, algo="fb", goal_ratio=0.5, expert_ratio=0.0, relabel_ratio=1.0)


PRESETS: Presets[FBCPRConfig] = Presets(
    smoke=FBCPRConfig(n_motions=60, motion_len=100, z_dim=16, width=64, b_width=64, disc_width=64, batch=64,
                      n_envs=16, n_updates=500, random_iters=10, buffer_size=20_000),
    cpu=FBCPRConfig(width=64, b_width=64, disc_width=64, batch=128, n_envs=16, n_updates=3000, random_iters=20,
                    buffer_size=100_000),
    # the MJX walker (spec §5.2): n_motions / motion_len size the dataset scripts/fbcpr_walker.py collects
    gpu=FBCPRConfig(env="walker", init="data", episode_len=500, n_motions=500, motion_len=200, z_dim=100,
                    width=1024, trunk=2, b_width=256, b_layers=2, disc_width=1024, disc_layers=3, batch=1024,
                    gamma=0.98, n_envs=256, env_steps_per_iter=4, updates_per_iter=100,
                    n_updates=300_000, random_iters=50, buffer_size=2_000_000, lr_f=1e-4, lr_b=1e-5, lr_actor=1e-4,
                    lr_critic=1e-4, lr_disc=1e-5, ortho_coef=100.0, q_loss_coef=0.1, alpha=0.01,
                    z_every=150),
)


def preset(scale: str | None = None) -> FBCPRConfig:
    """The FB-CPR config for ``scale`` (``smoke``, ``cpu``, ``gpu`` or ``auto``/None)."""
    return PRESETS(scale)
