"""Oracles for rizzlib.mazes.tokens: round trips, the spec's lengths and positions, the answer mask,
edge shuffling, and clear errors for unknown tokens."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rizzlib.mazes import generate as gen
from rizzlib.mazes import tokens as tok


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["dfs", "astar"]), size=st.integers(3, 9), seed=st.integers(0, 2**32 - 1))
def test_tokenize_detokenize_round_trip(kind, size, seed):
    r = rng(seed)
    mazes = (
        gen.generate_mazes(kind, size, 4, r) if kind == "dfs" else gen.generate_astar(size, 4, r, attempts=3)
    )
    vocab = tok.make_vocab(kind, 10)
    batch = tok.tokenize(mazes, vocab, r)
    for i, m in enumerate(mazes):
        assert tok.detokenize(batch, i) == m
        strings = tok.maze_to_tokens(m, r)
        assert vocab.decode(vocab.encode(strings)) == strings
        assert tok.tokens_to_maze(strings, size) == m
        answer = batch.ids[i][batch.answer_mask[i]]
        np.testing.assert_array_equal(tok.decode_path(answer, vocab), m.path)
        np.testing.assert_array_equal(answer.numpy(), tok.encode_path(m.path, vocab))


@pytest.mark.parametrize("size", [3, 5, 10, 20])
def test_dfs_lengths_and_positions(size):
    mazes = gen.generate_dfs(size, 16, rng(size))
    vocab = tok.dfs_vocab(size)
    batch = tok.tokenize(mazes, vocab, rng(1))
    prompt = 3 * size * size + 6
    assert batch.ids.shape == (16, tok.max_seq_len("dfs", size))
    assert torch.all(batch.prompt_lengths == prompt) and tok.prompt_length("dfs", size) == prompt
    assert torch.all(batch.ids[:, prompt - 1] == vocab.path_start_id)  # <PATH_START> at 3n^2 + 5
    np.testing.assert_array_equal(batch.lengths.numpy(), 3 * size * size + 7 + mazes.path_lengths)
    for i in range(16):
        end = int(batch.lengths[i])
        assert batch.ids[i, end - 1] == vocab.answer_end_id
        assert torch.all(batch.ids[i, end:] == vocab.pad_id)
        expected_mask = torch.zeros(batch.ids.shape[1], dtype=torch.bool)
        expected_mask[prompt:end] = True
        assert torch.equal(batch.answer_mask[i], expected_mask)
        assert torch.equal(batch.padding_mask[i], torch.arange(batch.ids.shape[1]) < end)


def test_astar_lengths_and_positions():
    mazes = gen.generate_astar(7, 30, rng(2), attempts=5)
    vocab = tok.astar_vocab(7)
    batch = tok.tokenize(mazes, vocab, rng(3))
    for i, m in enumerate(mazes):
        w, length = int(m.walls.sum()), len(m.path)
        assert int(batch.lengths[i]) == 11 + 3 * w + 3 * length
        p = int(batch.prompt_lengths[i])
        assert p == tok.prompt_length("astar", 7, w) and batch.ids[i, p - 1] == vocab.path_start_id
        assert int(batch.answer_mask[i].sum()) == 3 * length + 2  # [BOS] plan x y ... [EOS]
    assert int(batch.lengths.max()) <= tok.max_seq_len("astar", 7) == batch.ids.shape[1]


def test_each_edge_appears_once_shuffled_and_in_both_orientations():
    m = gen.generate_dfs(10, 1, rng(4))[0]
    strings = tok.maze_to_tokens(m, rng(5))
    body = strings[1 : strings.index(tok.ADJLIST_END)]
    pairs = [(tok.parse_cell_token(a), tok.parse_cell_token(b)) for a, b in zip(body[0::3], body[1::3])]
    assert len(pairs) == 99 and set(body[2::3]) == {";"}
    canonical = {tuple(sorted(p)) for p in pairs}
    assert canonical == {tuple(map(tuple, e)) for e in m.edges().tolist()}
    swapped = np.mean([p[0] > p[1] for p in pairs])
    assert 0.3 < swapped < 0.7
    assert pairs != sorted(pairs, key=lambda p: sorted(p))  # not row-major: order is shuffled
    # a different rng gives a different order of the same edges
    other = tok.maze_to_tokens(m, rng(6))
    assert other != strings and sorted(other) == sorted(strings)


def test_batch_edge_order_is_shuffled_per_sample():
    mazes = gen.generate_dfs(4, 2, rng(7))
    mazes = gen.stack_mazes([mazes[0], mazes[0]])  # the same maze twice
    batch = tok.tokenize(mazes, tok.dfs_vocab(4), rng(8))
    assert not torch.equal(batch.ids[0], batch.ids[1])
    assert tok.detokenize(batch, 0) == tok.detokenize(batch, 1)


def test_vocab_sizes_and_ids():
    v = tok.dfs_vocab(5)
    assert len(v) == 25 + 14 and v.model_size == 128 and v.pad_id == 0
    assert len(set(v.tokens)) == len(v)
    assert v.cell_id(2, 3) == v.id("(2,3)")
    big = tok.dfs_vocab(12)
    assert len(big) == 144 + 14 and big.model_size == 256
    a = tok.astar_vocab(10)
    assert a.decode(a.encode(["[BOS]", "plan", "9", "0", "[EOS]"])) == ["[BOS]", "plan", "9", "0", "[EOS]"]
    assert a.answer_end_id == a.eos_id and v.answer_end_id == v.id("<PATH_END>")


def test_larger_vocab_encodes_smaller_mazes():
    mazes = gen.generate_dfs(4, 3, rng(9))
    batch = tok.tokenize(mazes, tok.dfs_vocab(8), rng(10))
    assert all(tok.detokenize(batch, i) == m for i, m in enumerate(mazes))


def test_unknown_tokens_and_ids_are_errors():
    v = tok.dfs_vocab(5)
    with pytest.raises(ValueError, match=r"token '\(5,0\)' is not in the dfs vocabulary"):
        v.encode(["(5,0)"])
    with pytest.raises(ValueError, match=r"token id must be in \[0, 38\]"):
        v.decode([39])
    with pytest.raises(ValueError, match="token id"):
        tok.decode_path(torch.tensor([-1]), v)
    with pytest.raises(ValueError, match="answer token 1 must be a cell"):
        tok.decode_path(v.encode(["(0,0)", ";", "<PATH_END>"]), v)
    a = tok.astar_vocab(5)
    with pytest.raises(ValueError, match="plan x y"):
        tok.decode_path(a.encode(["[BOS]", "plan", "1", "wall", "[EOS]"]), a)
    with pytest.raises(ValueError, match="start with"):
        tok.decode_path(a.encode(["plan", "1", "1"]), a)


def test_decode_path_stops_at_the_end_token():
    v = tok.dfs_vocab(5)
    ids = v.encode(["(0,0)", "(0,1)", "<PATH_END>", "(4,4)", "[PAD]"])
    assert tok.decode_path(ids, v).tolist() == [[0, 0], [0, 1]]
    assert tok.decode_path(v.encode(["(1,1)"]), v).tolist() == [[1, 1]]  # no end token: read all


def test_tokenize_errors():
    mazes = gen.generate_dfs(6, 2, rng(11))
    with pytest.raises(ValueError, match="mazes.size"):
        tok.tokenize(mazes, tok.dfs_vocab(5), rng())
    with pytest.raises(ValueError, match="vocab.kind"):
        tok.tokenize(mazes, tok.astar_vocab(6), rng())
    with pytest.raises(ValueError, match="seq_len"):
        tok.tokenize(mazes, tok.dfs_vocab(6), rng(), seq_len=20)
    with pytest.raises(ValueError, match="grid_size"):
        tok.dfs_vocab(31)
    with pytest.raises(ValueError, match="start and goal must differ"):
        tok.tokens_to_maze(
            [
                "<ADJLIST_START>",
                "(0,0)",
                "(0,1)",
                ";",
                "<ADJLIST_END>",
                "<ORIGIN_START>",
                "(0,0)",
                "<ORIGIN_END>",
                "<TARGET_START>",
                "(0,0)",
                "<TARGET_END>",
                "<PATH_START>",
                "(0,0)",
                "<PATH_END>",
            ],
            3,
        )


def test_trimmed_and_subset():
    mazes = gen.generate_dfs(5, 8, rng(12))
    batch = tok.tokenize(mazes, tok.dfs_vocab(5), rng(13))
    short = batch.trimmed()
    assert short.ids.shape[1] == int(batch.lengths.max())
    assert torch.equal(short.ids, batch.ids[:, : short.ids.shape[1]])
    sub = batch.subset([2, 0])
    assert torch.equal(sub.ids[0], batch.ids[2]) and len(sub) == 2


def test_concat_batches_of_several_sizes():
    vocab = tok.dfs_vocab(6)
    parts = [tok.tokenize(gen.generate_dfs(n, 3, rng(n)), vocab, rng(20 + n)) for n in (3, 6)]
    both = tok.concat_batches(parts)
    assert both.ids.shape == (6, tok.max_seq_len("dfs", 6))
    assert both.sizes.tolist() == [3, 3, 3, 6, 6, 6]
    assert torch.all(both.ids[:3, parts[0].ids.shape[1] :] == vocab.pad_id)
    assert not both.answer_mask[:3, parts[0].ids.shape[1] :].any()
    for i in range(6):
        j = i % 3
        assert tok.detokenize(both, i) == tok.detokenize(parts[i // 3], j)
    with pytest.raises(ValueError, match="vocabulary"):
        tok.concat_batches([parts[0], tok.tokenize(gen.generate_dfs(3, 1, rng()), tok.dfs_vocab(3), rng())])


def test_format_matches_maze_dataset_when_installed():
    """maze-dataset's own AOTP_UT_rasterized tokens, with its '<-->' connector dropped, parse into
    the same maze (passages, endpoints, path) with our tokenizer."""
    pytest.importorskip("maze_dataset")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from maze_dataset.generation import LatticeMazeGenerators
        from maze_dataset.maze.lattice_maze import SolvedMaze
        from maze_dataset.tokenization import MazeTokenizer, TokenizationMode

    n = 5
    tokenizer = MazeTokenizer(tokenization_mode=TokenizationMode.AOTP_UT_rasterized, max_grid_size=n)
    r = rng(30)
    for _ in range(5):
        lattice = LatticeMazeGenerators.gen_dfs(np.array([n, n]))
        start, goal = (tuple(int(v) for v in divmod(c, n)) for c in r.choice(n * n, size=2, replace=False))
        solved = SolvedMaze.from_lattice_maze(lattice, lattice.find_shortest_path(start, goal))
        theirs = [t for t in solved.as_tokens(tokenizer) if t != "<-->"]
        ours = tok.tokens_to_maze(theirs, n)
        np.testing.assert_array_equal(ours.connections, lattice.connection_list)
        assert ours.start == start and ours.goal == goal
        assert ours == gen.make_maze("dfs", lattice.connection_list, start, goal)
        assert len(theirs) == 3 * n * n + 7 + len(ours.path)
