# Sourced by build_book.sh and test.sh: make (or reuse) a virtual environment and install rizzlib
# with every extra. torch is pinned to 2.13.0 here because that CPU wheel is on the build machine's
# disk (an unpinned torch pulls a multi-GB CUDA build); the package metadata keeps a loose range.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -z "${VIRTUAL_ENV:-}" ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $(${PYTHON:-python3} --version)"
    "${PYTHON:-python3}" -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
fi
echo "installing into $VIRTUAL_ENV"
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[all,bench]" -c requirements-ci.txt   # bench: the peers some tests compare against
python -m ipykernel install --user --name python3 --display-name "Python 3" >/dev/null
export MPLBACKEND=Agg JAX_PLATFORMS=cpu CUDA_VISIBLE_DEVICES="" OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
