#!/usr/bin/env bash
# npm run demo:wasmtime -- [flags]: the Python host on wasmtime (examples/wasmtime/wasshd_wasmtime.py), with the component
# built first when its sources changed. wasmtime lives in a venv under .tools/, which scripts/setup.sh makes.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=.tools/wasmtime/bin/python
if ! "$PYTHON" -c 'import wasmtime.component' 2>/dev/null; then
  echo "wasshd: wasmtime is not installed in .tools/wasmtime: run bash scripts/setup.sh" >&2
  exit 1
fi
node scripts/build-component.mjs
exec "$PYTHON" examples/wasmtime/wasshd_wasmtime.py "$@"
