"""rizzlib.kinetix: Kinetix (Matthews et al., 2025) on rizzlib.jax2d: levels, env, agent, PPO + SFL.

Environment: :class:`EnvConfig`, :class:`EnvParams`, :class:`Level`, :class:`LevelBuilder`,
:class:`KinetixEnv` (pure ``reset``/``step`` with auto-reset). Observations in
:mod:`rizzlib.kinetix.observe`, actions in :mod:`rizzlib.kinetix.actions`, the reward rule in
:mod:`rizzlib.kinetix.reward`.
"""

from rizzlib.core.extras import require_extra

require_extra(__name__, "jax")

from rizzlib.kinetix.actions import action_shape, action_sizes, channels, engine_actions, noop_action  # noqa: E402
from rizzlib.kinetix.env import KinetixEnv  # noqa: E402
from rizzlib.kinetix.levels import (  # noqa: E402
    LevelBuilder,
    index_level,
    num_levels,
    refresh_collision_matrix,
    stack_levels,
    validate_level,
)
from rizzlib.kinetix.observe import EntityObservation, flat_size, observe  # noqa: E402
from rizzlib.kinetix.reward import combine_substeps, contact_reward, green_blue_distance  # noqa: E402
from rizzlib.kinetix.types import (  # noqa: E402
    ACTIONS,
    NUM_BORDERS,
    OBSERVATIONS,
    EnvConfig,
    EnvParams,
    EnvState,
    Level,
    Role,
)

__all__ = [
    "ACTIONS", "NUM_BORDERS", "OBSERVATIONS", "EntityObservation", "EnvConfig", "EnvParams", "EnvState",
    "KinetixEnv", "Level", "LevelBuilder", "Role", "action_shape", "action_sizes", "channels",
    "combine_substeps", "contact_reward", "engine_actions", "flat_size", "green_blue_distance",
    "index_level", "noop_action", "num_levels", "observe", "refresh_collision_matrix", "stack_levels",
    "validate_level",
]
