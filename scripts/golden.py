"""Digests of deterministic model runs: the record that keeps the model's bits fixed.

``python scripts/golden.py --write`` records ``tests/golden/model_digests.json``;
``tests/test_golden.py`` recomputes every digest and compares.  Each case runs the
periphery reference and the behavioural array through forwards, backwards and updates
(the fast vector path and the slot-level path), for every device model and the main
configuration switches, and hashes the weights, pulse counters and read/update codes.
The ``demo`` case replays the ``rpu demo`` bench's operations on the reference (the demo
itself checks the co-simulation against the reference bit for bit).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden" / "model_digests.json"


def _cases():
    from rpu import TileConfig
    from rpu.config import DeviceConfig, MultiConductanceConfig
    d = DeviceConfig()
    return {
        "default_32x24": TileConfig(in_size=32, out_size=24),
        "linear_step": TileConfig(in_size=20, out_size=16,
                                  device=d.replace(model="linear_step", gamma_up=0.3, gamma_down=0.2)),
        "soft_bounds": TileConfig(in_size=20, out_size=16, device=d.replace(model="soft_bounds")),
        "exp_step": TileConfig(in_size=20, out_size=16, device=d.replace(model="exp_step")),
        "stuck": TileConfig(in_size=16, out_size=12, device=d.replace(stuck_prob=0.1)),
        "disturb": TileConfig(in_size=16, out_size=12, device=d.replace(disturb=0.2)),
        # the one-directional LSP pair (recorded before the capacitor became the default)
        "mc": TileConfig(in_size=16, out_size=12,
                         mc=MultiConductanceConfig(enabled=True, lsp_kind="pair", transfer_every=100,
                                                   transfer_tolerance=0.01)),
        "mc_capacitor": TileConfig(in_size=16, out_size=12, mc=MultiConductanceConfig(enabled=True)),
        "dynamic_bl": TileConfig(in_size=24, out_size=20, dynamic_bl=True, lr=0.05),
        "um_off_pow2": TileConfig(in_size=24, out_size=20, update_management=False,
                                  noise_management="pow2"),
        "nm_off_bm_off": TileConfig(in_size=24, out_size=20, noise_management="off",
                                    bound_management=False),
        "shape_lpa_slots": TileConfig(in_size=30, out_size=12, lines_per_adc=3, slot_cycles=2,
                                      prob_bits=5, stream_width=3),
        "tiny_1x1": TileConfig(in_size=1, out_size=1),
        "big_200x130": TileConfig(in_size=200, out_size=130),
    }


def _h(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _counts(xb):
    pc = xb.pulse_counts
    if isinstance(pc, dict):
        return [a for k in sorted(pc) for a in pc[k]]
    return list(pc)


def run_case(cfg) -> dict:
    """Forward/backward/update sequence on the vector path and on the slot path."""
    from rpu.models import Crossbar, MultiConductanceCrossbar, TileReference
    from rpu.models.ref_management import to_fixed

    rng = np.random.default_rng(7)
    n, m = cfg.in_size, cfg.out_size
    out = {}
    tile = TileReference(cfg)
    tile.set_weights(rng.uniform(-0.3, 0.3, (m, n)))
    reads = []
    for k in range(12):
        x = rng.uniform(-1, 1, n) * (1 if k % 3 else 0.05)
        d = rng.uniform(-0.5, 0.5, m) * (1 if k % 4 else 0.01)
        if k % 5 == 0:
            x = np.abs(x)                       # x >= 0: two phases
        reads.append(tile.forward(x))
        reads.append(tile.backward(d))
        uc = tile.update(x, d)
        reads.append(np.concatenate([uc.x_codes, uc.d_codes, [uc.bl]]))
    big = np.full((m, n), 0.5)
    tile.set_weights(big)
    reads.append(tile.forward(np.ones(n)))      # bound management
    out["vector_path"] = _h(tile.weights, *_counts(tile.crossbar), *reads)

    # slot path: the reference's drives applied slot by slot to a second array (what the
    # co-simulation's front-end does); both arrays must agree
    array = MultiConductanceCrossbar if cfg.mc.enabled else Crossbar
    xb = array(cfg)
    ref = TileReference(cfg, array(cfg))
    rng = np.random.default_rng(8)
    w0 = rng.uniform(-0.2, 0.2, (m, n))
    xb.set_weights(w0)
    ref.set_weights(w0)
    got = []
    for k in range(6):
        x = to_fixed(cfg, rng.uniform(-1, 1, n))
        d = to_fixed(cfg, rng.uniform(-1, 1, m))
        got.append(ref.forward_fixed(x).y_fixed)
        got.append(ref.backward_fixed(d).y_fixed)
        codes, drv = ref.update_fixed(x, d)
        if len(drv.x_pos):
            xb.apply_slots(drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg)
        got += [drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg]
    out["slot_path"] = _h(xb.weights, *_counts(xb), *got)
    if not np.array_equal(xb.weights, ref.weights):
        raise AssertionError("the reference's phase trains and its drives applied slot by slot "
                             "left different weights")
    return out


def demo_case() -> dict:
    """The ``rpu demo`` bench's operation sequence on the reference (default tile)."""
    from rpu import TileConfig
    from rpu.models import Crossbar, TileReference
    from rpu.models.ref_management import to_fixed

    cfg = TileConfig()
    rng = np.random.default_rng(5)
    w0 = rng.uniform(-0.3, 0.3, (cfg.out_size, cfg.in_size))
    ref = TileReference(cfg, Crossbar(cfg))
    ref.crossbar.set_weights(w0)
    scale = 0.3
    x = rng.uniform(-scale, scale, cfg.in_size)
    d = rng.uniform(-scale, scale, cfg.out_size)
    x[0], x[-1], d[0], d[-1] = scale, -scale, scale / 2, -scale / 2
    x, d = to_fixed(cfg, x), to_fixed(cfg, d)
    y = ref.forward_fixed(x).y_fixed
    z = ref.backward_fixed(d).y_fixed
    for _ in range(100):
        codes, _drv = ref.update_fixed(x, d)
    return {"demo": _h(y, z, ref.crossbar.weights, codes.x_codes, codes.d_codes)}


def use_threads(threads: int) -> None:
    """Run the fused update on ``threads`` threads, even for these small tiles (the
    digests must not depend on it)."""
    from rpu.models import fused
    fused.PARALLEL_MIN_WORK = 0 if threads > 1 else fused.PARALLEL_MIN_WORK
    fused.set_threads(threads)


def compute() -> dict:
    out = {name: run_case(cfg) for name, cfg in _cases().items()}
    out.update(demo_case())
    return out


def main(argv=None) -> int:
    from rpu.models.clipping import ClipWarning
    warnings.simplefilter("ignore", ClipWarning)       # the cases clip on purpose
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--write", action="store_true", help=f"record {GOLDEN}")
    p.add_argument("--threads", type=int, default=1,
                   help="threads of the fused update (parallel kernels even on small tiles)")
    args = p.parse_args(argv)
    use_threads(args.threads)
    got = compute()
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    want = json.loads(GOLDEN.read_text())
    bad = [k for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
    for k in bad:
        print(f"differs: {k}: recorded {want.get(k)} now {got.get(k)}")
    print("all digests equal" if not bad else f"{len(bad)} digests differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
