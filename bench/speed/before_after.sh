#!/usr/bin/env bash
# Same-machine before/after check of a refactor: the tree at REV vs the working tree, alternating, on one
# bench recipe (bench/speed/recipes.py over the 250M inputs of make_inputs.py), through the CLI with the same venv.
# Prints wall s, CPU s (user+system) and peak RSS per run; quote medians.
#   bash bench/speed/before_after.sh 4420526 linear 4
#   bash bench/speed/before_after.sh 4420526 ties 3
set -euo pipefail
rev=${1:?REV}; method=${2:-linear}; rounds=${3:-3}
root=$(git rev-parse --show-toplevel); py="$root/.venv/bin/python"
work=$(mktemp -d); trap 'git -C "$root" worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add -q --detach "$work/before" "$rev"
"$py" bench/speed/make_inputs.py 250m >/dev/null
"$py" - "$work/$method.yaml" "$method" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, "bench/speed")
from recipes import recipe
folders = [Path("bench/.cache/speed/250m", n).resolve() for n in ("base", "ft1", "ft2")]
Path(sys.argv[1]).write_text(recipe(sys.argv[2], folders))
PY
for _ in $(seq "$rounds"); do
  for side in before after; do
    src="$root/src"; [ "$side" = before ] && src="$work/before/src"
    rm -rf "$work/out"
    /usr/bin/time -f "$side $method wall=%e cpu=%U+%S rss=%MKB" env PYTHONPATH="$src" "$py" \
      -c "from modelfusion.cli.main import run; run()" merge "$work/$method.yaml" "$work/out" -q --threads 2 2>&1 | tail -1
  done
done
