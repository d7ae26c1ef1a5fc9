"""The chapter's whole-model table on the shipped stdlib byte LM (see :mod:`rizzlib.caldera.table`):
fp32, RTN 2-bit, GPTQ 2-bit, LDLQ + E8P (QuIP# no FT), CALDERA at the preset's ranks, + LoRA; each
with held-out perplexity per byte, exact average bits and compression time; then the peer library
``optimum-quanto`` (int2 and int4 weights) on the same model and held-out windows.

    nice -n 10 python scripts/caldera_table.py --scale cpu --json benchmarks/results/caldera_table.json
"""

from __future__ import annotations

import argparse
import json

from rizzlib.caldera.presets import preset
from rizzlib.caldera.table import chapter_data, frontier_verdicts, quanto_rows, verdicts, whole_model_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="cpu")
    parser.add_argument("--json", default=None)
    parser.add_argument("--no-peer", action="store_true", help="skip the optimum-quanto rows")
    args = parser.parse_args(argv)
    cfg = preset(args.scale)
    data = chapter_data(cfg)
    rows = whole_model_table(cfg, data, progress=True)
    if not args.no_peer:
        rows += quanto_rows(cfg, data)
    for r in rows:
        print(f"{r['method']:50s} bits {r['bits']:6.3f}  ppl {r['ppl']:8.4f}  {r['seconds']:7.1f} s")
    for v in verdicts(rows) + frontier_verdicts(rows):
        print(v)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"scale": args.scale, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
