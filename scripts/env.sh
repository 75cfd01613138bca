# Sourced by demo.sh and test.sh: a project virtualenv with everything installed.
# torch is installed first and pinned (the machine's CPU build): an unpinned torch
# would pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
. .venv/bin/activate
if ! python -c "import kelly_hf, torch, pytest" 2>/dev/null || [ setup.cfg -nt .venv/.installed ]; then
  pip install -q --disable-pip-version-check torch==2.13.0
  pip install -q --disable-pip-version-check -e ".[train,test]"
  touch .venv/.installed
fi
