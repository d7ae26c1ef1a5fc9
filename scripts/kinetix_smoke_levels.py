"""Write the random S levels that notebook 01b uses at ``smoke`` scale, so that a smoke run loads them
instead of generating them (the no-op filter's compile alone is most of a minute on 2 cores).

The file holds exactly ``sample_levels(EnvConfig.for_size("s"), COUNT, seed=SEED)`` (no-op filter on);
``tests/test_kinetix_levels.py`` regenerates them and checks every array (slow test). At ``cpu`` and
``gpu`` scale the notebook generates its levels live, as before.

    python scripts/kinetix_smoke_levels.py
"""

from __future__ import annotations

from pathlib import Path

from rizzlib.kinetix.generate import sample_levels
from rizzlib.kinetix.train import save_levels
from rizzlib.kinetix.types import EnvConfig

OUT = Path(__file__).resolve().parents[1] / "rizzlib" / "kinetix" / "builtin_levels" / "random_s_smoke.safetensors"
#: levels in the file (the smoke live run's pool and held-out set are slices of it) and their seed
COUNT = 48
SEED = 0


def make():
    """The levels the file holds."""
    return sample_levels(EnvConfig.for_size("s"), COUNT, seed=SEED)


def main() -> None:
    save_levels(str(OUT), make())
    print(f"wrote {COUNT} random S levels (seed {SEED}) to {OUT}")


if __name__ == "__main__":
    main()
