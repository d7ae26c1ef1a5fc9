"""Chapter 3: mazes with multi-step prediction (MLM-U vs next-token), torch side.

Data: :mod:`rizzlib.mazes.generate` (seeded DFS and Searchformer A* mazes, BFS/A* paths),
:mod:`rizzlib.mazes.tokens` (vocabularies, encode/decode, padded torch batches),
:mod:`rizzlib.mazes.plot` (ASCII and matplotlib drawings), :mod:`rizzlib.mazes.reference` (slow
plain-Python twins used by tests and graded checks).
"""

from rizzlib.core.extras import require_extra

require_extra(__name__, "torch", modules=["torch", "safetensors"])  # before any framework import

from rizzlib.mazes.generate import (
    KINDS,
    MAX_SIZE,
    MIN_SIZE,
    Maze,
    MazeBatch,
    astar_plan,
    bfs_distances,
    dfs_connections,
    generate_astar,
    generate_dfs,
    generate_mazes,
    is_shortest_path,
    is_valid_walk,
    make_maze,
    shortest_paths,
    split_train_val,
    stack_mazes,
    task_keys,
)
from rizzlib.mazes.plot import maze_to_ascii, plot_maze, plot_mazes
from rizzlib.mazes.tokens import (
    TokenBatch,
    Vocab,
    astar_vocab,
    concat_batches,
    decode_path,
    detokenize,
    dfs_vocab,
    encode_path,
    make_vocab,
    max_seq_len,
    maze_to_tokens,
    prompt_length,
    tokenize,
    tokens_to_maze,
    tokens_to_path,
)

__all__ = [
    "KINDS",
    "MAX_SIZE",
    "MIN_SIZE",
    "Maze",
    "MazeBatch",
    "TokenBatch",
    "Vocab",
    "astar_plan",
    "astar_vocab",
    "bfs_distances",
    "concat_batches",
    "decode_path",
    "detokenize",
    "dfs_connections",
    "dfs_vocab",
    "encode_path",
    "generate_astar",
    "generate_dfs",
    "generate_mazes",
    "is_shortest_path",
    "is_valid_walk",
    "make_maze",
    "make_vocab",
    "max_seq_len",
    "maze_to_ascii",
    "maze_to_tokens",
    "plot_maze",
    "plot_mazes",
    "prompt_length",
    "shortest_paths",
    "split_train_val",
    "stack_mazes",
    "task_keys",
    "tokenize",
    "tokens_to_maze",
    "tokens_to_path",
]

# Models, objectives, decoding, evaluation and training (torch): rizzlib.mazes.model, .objectives,
# .decode, .eval, .train, .presets; graded checks in rizzlib.mazes.checks (not re-exported).
from rizzlib.mazes.decode import greedy_decode  # noqa: E402
from rizzlib.mazes.eval import EvalResult, evaluate  # noqa: E402
from rizzlib.mazes.model import MLMUModel, ModelConfig, NextTokenModel, build_model, count_parameters  # noqa: E402
from rizzlib.mazes.objectives import (  # noqa: E402
    masked_mean_cross_entropy,
    mlmu_loss,
    next_token_loss,
    sample_visible,
    visible_from_uniforms,
)
from rizzlib.mazes.presets import PRESETS, DataConfig, MazeConfig, preset  # noqa: E402
from rizzlib.mazes.train import (  # noqa: E402
    History,
    TrainConfig,
    init_model,
    load_checkpoint,
    make_datasets,
    measure_training_throughput,
    save_checkpoint,
    train,
)

__all__ += [
    "DataConfig",
    "EvalResult",
    "History",
    "MLMUModel",
    "MazeConfig",
    "ModelConfig",
    "NextTokenModel",
    "PRESETS",
    "TrainConfig",
    "build_model",
    "count_parameters",
    "evaluate",
    "greedy_decode",
    "init_model",
    "load_checkpoint",
    "make_datasets",
    "masked_mean_cross_entropy",
    "measure_training_throughput",
    "mlmu_loss",
    "next_token_loss",
    "preset",
    "sample_visible",
    "save_checkpoint",
    "train",
    "visible_from_uniforms",
]
