"""The emulated crossbar (a prototyping aid): its configuration, its reference, and the
gateware against the reference under Amaranth's simulator (fast block tests; the tile +
emulator co-simulation under both simulators is tests/test_emulator_cosim.py).

In the block tests the testbench plays the tile: it shows one tile cycle's outputs (line
drives, ``upd_slot``, integrator control, conversion starts) and moves to the next tile
cycle only after a clock edge with ``tile_en`` high, as the frozen tile would.
"""

import numpy as np
import pytest

from rpu.config import ConfigTypeError, ConfigValueError, EmulatorConfig, TileConfig
from rpu.models import TileReference
from rpu.models.ref_emulator import EmulatedCrossbarRef, weight_lsb
from rpu.models.ref_management import to_fixed
from rpu.models.ref_pulse_width import pulse_width_drives
from rpu.spec.emulator import (HOST_STALL, emulator_register_map, emulator_window, init_cycles,
                               read_stall, slot_stall, spread)
from rpu.testbench.amsim import simulate
from rpu.testbench.host import am_axil_read, am_axil_write

SMALL = TileConfig(in_size=6, out_size=8, out_bound=6.0)
ECFG = EmulatorConfig(read_shift=9)


# -- configuration -------------------------------------------------------------------------

def test_defaults_and_presets():
    e = EmulatorConfig()
    assert (e.state_bits, e.step, e.gain_bits, e.imbalance_bits, e.noise_bits, e.init_bits,
            e.read_shift) == (14, 16, 2, 1, 3, 8, 15)
    ideal = EmulatorConfig.preset("ideal")
    assert (ideal.gain_bits, ideal.imbalance_bits, ideal.noise_bits, ideal.init_bits) == (0, 0, 0, 0)
    assert EmulatorConfig.from_dict(e.to_dict()) == e
    with pytest.raises(ConfigValueError, match="emulator preset must be one of default, ideal, noisy"):
        EmulatorConfig.preset("fast")


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(state_bits=3), ConfigValueError, r"emulator.state_bits must be an integer in \[4, 16\], not 3"),
    (dict(step=1.5), ConfigTypeError, r"emulator.step must be an integer in \[1, 4096\], not 1.5"),
    (dict(noise_bits=True), ConfigTypeError, r"emulator.noise_bits must be an integer"),
    (dict(step=4), ConfigValueError, r"emulator.step must be above the gain \+ imbalance spread \(4\)"),
    (dict(state_bits=6, step=40, gain_bits=0, imbalance_bits=0, noise_bits=0, init_bits=0),
     ConfigValueError, r"emulator.step must be at most 31"),
    (dict(state_bits=8, init_bits=8), ConfigValueError, r"emulator.init_bits must be at most 7"),
    (dict(seed=0), ConfigValueError, r"emulator.seed must be an integer in \[1, 4294967295\], not 0"),
])
def test_bad_parameters_are_one_line(kw, exc, msg):
    with pytest.raises(exc, match=msg) as info:
        EmulatorConfig(**kw)
    assert "\n" not in str(info.value)


def test_blocks_refuse_bad_arguments():
    from rpu.rtl.emulator import CrossbarEmulator, EmulatedTile
    with pytest.raises(TypeError, match="cfg must be"):
        CrossbarEmulator("tile")
    with pytest.raises(TypeError, match="ecfg must be"):
        EmulatedTile(SMALL, {"step": 3})
    with pytest.raises(ValueError, match="mc.enabled must be false"):
        EmulatedTile(SMALL.replace(mc=SMALL.mc.replace(enabled=True)))
    with pytest.raises(TypeError, match="ecfg must be"):
        EmulatedCrossbarRef(SMALL, 3)


def test_spread_is_zero_mean_and_odd():
    for bits in range(0, 5):
        vals = [spread(u, bits) for u in range(1 << bits)]
        assert sum(vals) == 0 and (bits == 0 or all(v % 2 for v in vals))
        assert max(vals, default=0) == (1 << bits) - 1


# -- reference -------------------------------------------------------------------------------

def test_reference_plugs_into_the_tile_reference_on_the_general_path():
    xb = EmulatedCrossbarRef(SMALL, ECFG)
    t = TileReference(SMALL, crossbar=xb)
    assert t.fused is None and t.fused_read is None and t.transfers is None
    rng = np.random.default_rng(3)
    s0 = xb.states.copy()
    r = t.forward_fixed(to_fixed(SMALL, rng.uniform(-1, 1, SMALL.in_size)))
    assert r.passes >= 1 and xb.reads == r.passes
    t.update_fixed(to_fixed(SMALL, rng.uniform(-1, 1, SMALL.in_size)),
                   to_fixed(SMALL, rng.uniform(-1, 1, SMALL.out_size)))
    assert xb.rows > 0 and not np.array_equal(xb.states, s0)
    up, down = xb.pulse_counts
    assert up.sum() == xb.pulses_up and down.sum() == xb.pulses_down
    assert np.allclose(t.weights, xb.states * weight_lsb(SMALL, ECFG))


def test_reference_device_rule_by_hand():
    """One slot, ideal device without noise: potentiated cells move by +step, depressed by
    −step, half-selected ones not; the stall is one cycle per row."""
    e = EmulatorConfig.preset("ideal")
    xb = EmulatedCrossbarRef(SMALL, e)
    n, m = SMALL.in_size, SMALL.out_size
    xp, xn = np.zeros(n, bool), np.zeros(n, bool)
    dp, dn = np.zeros(m, bool), np.zeros(m, bool)
    xp[1] = xn[4] = True
    dn[2] = dp[5] = dp[7] = True
    xb.apply_slot(xp, xn, dp, dn)
    want = np.zeros((m, n), np.int64)
    want[2, 1] = e.step
    want[5, 4] = want[7, 4] = -e.step
    assert np.array_equal(xb.states, want)
    assert xb.stall_update == slot_stall(3) == 3 and xb.rows == 3 and xb.slots == 1
    xb.apply_slot(xp, np.zeros(n, bool), dp, np.zeros(m, bool))     # no coincidence
    assert xb.stall_update == 3 and xb.slots == 1
    # bounds saturate
    xb.states[2, 1] = xb.fmt.state_max - 1
    xb.apply_slot(xp, xn, dp, dn)
    assert xb.states[2, 1] == xb.fmt.state_max


def test_reference_initial_devices_have_the_configured_spreads():
    cfg = TileConfig(in_size=64, out_size=64)
    xb = EmulatedCrossbarRef(cfg, EmulatorConfig())
    e = xb.ecfg
    g = (xb.up + xb.down) // 2 - e.step
    r = (xb.up - xb.down) // 2
    assert set(np.unique(g)) == set(range(-3, 4, 2)) and set(np.unique(r)) == {-1, 1}
    assert abs(xb.states.mean()) < 10 and 130 < xb.states.std() < 165     # uniform ±255
    # neighbouring devices are not copies of each other (draws share no bits)
    s = xb.states.astype(float)
    for a, b in ((s[1:, 1:], s[:-1, :-1]), (s[1:], s[:-1]), (s[:, 1:], s[:, :-1])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.08


def test_register_window_layout():
    rm = emulator_register_map(SMALL, ECFG)
    win = emulator_window(SMALL, ECFG)
    assert rm["EMU_STATES"].count == SMALL.in_size
    assert win.base == 1 << (win.addr_width - 1) and win.base >= 1 << win.tile_addr_width


# -- gateware under Amaranth's simulator ------------------------------------------------------

class TilePlayer:
    """Plays the tile's crossbar-side outputs cycle by cycle (tile time) and collects the
    emulator's answers; ``run(ctx, cycles)`` applies a list of tile cycles."""

    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg
        self.wall = 0
        self.frozen = 0
        self.answers = []            # (tile cycle, side, codes word)
        self.tile_cycle = 0

    async def step(self, ctx, **sig):
        """Show one tile cycle and wait until the emulator lets it run."""
        d = self.dut
        names = {"x_pos": d.x_pos, "x_neg": d.x_neg, "d_pos": d.d_pos, "d_neg": d.d_neg,
                 "upd_slot": d.upd_slot}
        for side in ("adc_d", "adc_x"):
            p = getattr(d, side)
            names.update({f"{side}_{k}": getattr(p, k) for k in ("integ_reset", "integ_en", "start", "sel")})
        for k, s in names.items():
            ctx.set(s, int(sig.get(k, 0)))
        while True:
            en = ctx.get(d.tile_en)
            if en:
                for side in ("adc_d", "adc_x"):
                    p = getattr(d, side)
                    if ctx.get(p.done):
                        self.answers.append((self.tile_cycle, side, ctx.get(p.codes)))
            await ctx.tick()
            self.wall += 1
            if en:
                self.tile_cycle += 1
                return
            self.frozen += 1


def _bits(v):
    return sum(int(b) << i for i, b in enumerate(v))


def _codes(word, lines, bits):
    out = [(word >> (k * bits)) & ((1 << bits) - 1) for k in range(lines)]
    return np.array([c - (1 << bits) if c >> (bits - 1) else c for c in out])


async def _read_states(ctx, bus, rm, base, cfg):
    """All device states through the register window (EMU_ROW, then EMU_STATES[j])."""
    out = np.zeros((cfg.out_size, cfg.in_size), np.int64)
    for i in range(cfg.out_size):
        assert await am_axil_write(ctx, bus, base + rm["EMU_ROW"].offset, i) == 0
        while (await am_axil_read(ctx, bus, base + rm["EMU_STATUS"].offset)) & 0x6:
            pass                                             # busy or pending
        for j in range(cfg.in_size):
            w = await am_axil_read(ctx, bus, base + rm.addr("EMU_STATES", j))
            out[i, j] = w - (1 << 32) if w >> 31 else w
    return out


def _run_block(cfg, ecfg, script):
    from rpu.rtl.emulator import CrossbarEmulator
    dut = CrossbarEmulator(cfg, ecfg)
    rm = emulator_register_map(cfg, ecfg)
    player = TilePlayer(dut, cfg)
    out = {}

    async def tb(ctx):
        await script(ctx, dut, player, rm, out)

    simulate(dut, tb)
    return out, player


def _random_slot(rng, cfg, p=0.4):
    n, m = cfg.in_size, cfg.out_size
    x = rng.choice([-1, 0, 1], n, p=[p / 2, 1 - p, p / 2])
    d = rng.choice([-1, 0, 1], m, p=[p / 2, 1 - p, p / 2])
    return x > 0, x < 0, d > 0, d < 0


@pytest.mark.parametrize("ecfg", [ECFG, EmulatorConfig.preset("noisy").replace(read_shift=8),
                                  ECFG.replace(read_lanes=4), ECFG.replace(read_lanes=1)],
                         ids=["default", "noisy", "4-lanes", "1-lane"])
def test_block_updates_reads_and_window_match_the_reference_amaranth_sim(ecfg):
    """Initialisation, 25 random update slots (some without a coincidence), a forward and
    a backward read with every conversion group answered after adc_latency tile cycles,
    a poke: states, codes, counters and frozen cycles equal the reference's."""
    cfg = SMALL.replace(lines_per_adc=2)
    rng = np.random.default_rng(7)
    ref = EmulatedCrossbarRef(cfg, ecfg)
    slots = [_random_slot(rng, cfg) for _ in range(25)]
    slots[3] = (slots[3][0], slots[3][1], np.zeros(cfg.out_size, bool), np.zeros(cfg.out_size, bool))
    x_codes = rng.integers(-cfg.dac_max, cfg.dac_max + 1, cfg.in_size)
    d_codes = rng.integers(-cfg.dac_max, cfg.dac_max + 1, cfg.out_size)
    lat = cfg.converters.adc_latency

    async def read(ctx, player, side, codes):
        pos, neg = pulse_width_drives(codes, cfg.converters.dac_bits)
        drv = "x" if side == "adc_d" else "d"
        await player.step(ctx, **{f"{side}_integ_reset": 1})
        for t in range(cfg.dac_max):
            await player.step(ctx, **{f"{side}_integ_en": 1, f"{drv}_pos": _bits(pos[t]),
                                      f"{drv}_neg": _bits(neg[t])})
        got = []
        for g in range(cfg.converters.lines_per_adc):
            start = player.tile_cycle
            await player.step(ctx, **{f"{side}_start": 1, f"{side}_sel": g})
            while not player.answers or player.answers[-1][0] < start:
                await player.step(ctx, **{f"{side}_sel": g})
            cyc, who, word = player.answers[-1]
            assert who == side and cyc - start == lat, (cyc, start)
            got.append(word)
        return got

    async def script(ctx, dut, player, rm, out):
        while ctx.get(dut.tile_en) == 0:                 # initialisation
            await ctx.tick()
            player.wall += 1
        out["init"] = player.wall
        bus = dut.bus
        base = 0
        out["s0"] = await _read_states(ctx, bus, rm, base, cfg)
        f0 = player.frozen
        for xp, xn, dp, dn in slots:
            await player.step(ctx, upd_slot=1, x_pos=_bits(xp), x_neg=_bits(xn),
                              d_pos=_bits(dp), d_neg=_bits(dn))
        await player.step(ctx)
        out["upd_frozen"] = player.frozen - f0
        f0 = player.frozen
        out["fwd"] = await read(ctx, player, "adc_d", x_codes)
        out["bwd"] = await read(ctx, player, "adc_x", d_codes)
        out["read_frozen"] = player.frozen - f0
        out["s1"] = await _read_states(ctx, bus, rm, base, cfg)
        assert await am_axil_write(ctx, bus, rm["EMU_ROW"].offset, 5) == 0
        assert await am_axil_write(ctx, bus, rm["EMU_POKE"].offset, (3 & 0xFFFF) | ((-1234 & 0xFFFF) << 16)) == 0
        assert await am_axil_write(ctx, bus, rm["EMU_POKE"].offset, 99) == 0    # bad column
        out["s2"] = await _read_states(ctx, bus, rm, base, cfg)
        out["regs"] = {r.name: await am_axil_read(ctx, bus, r.offset) for r in rm
                       if not r.is_array and r.access == "ro"}

    out, player = _run_block(cfg, ecfg, script)
    assert out["init"] == init_cycles(cfg)
    assert np.array_equal(out["s0"], ref.states), "initial states differ from the reference"
    for xp, xn, dp, dn in slots:
        ref.apply_slot(xp, xn, dp, dn)
    assert out["upd_frozen"] == ref.stall_update > 0
    assert np.array_equal(out["s1"], ref.states), "states after the slots differ"
    bits, lpa = cfg.converters.adc_bits, cfg.converters.lines_per_adc
    want_f, _ = ref.read_forward_pulses(x_codes)
    want_b, _ = ref.read_backward_pulses(d_codes)
    got_f = np.concatenate([_codes(w, cfg.num_adcs_d, bits) for w in out["fwd"]])
    got_b = np.concatenate([_codes(w, cfg.num_adcs_x, bits) for w in out["bwd"]])
    assert np.array_equal(got_f, want_f) and np.array_equal(got_b, want_b)
    assert np.abs(want_f).max() > 0 and np.abs(want_b).max() > 0
    assert out["read_frozen"] == 2 * read_stall(cfg, ecfg)
    ref.poke(5, 3, -1234)
    assert np.array_equal(out["s2"], ref.states)
    regs = out["regs"]
    for name, value in ref.counters().items():
        assert regs[name] == value, (name, regs[name], value)
    # host commands: three full read-outs of M rows, one row load and one poke (the bad
    # column is refused before it reaches the engine)
    assert regs["EMU_STALL_HOST"] == HOST_STALL * (3 * cfg.out_size + 2)
    status = emulator_register_map(cfg, ecfg).decode("EMU_STATUS", regs["EMU_STATUS"])
    assert status == dict(ready=1, busy=0, pending=0, bad_cmd=1, state=1)
    assert regs["EMU_ID"] == 0x454D5531 and regs["EMU_LOADED"] == cfg.out_size - 1


def test_block_slot_cycles_and_single_line_amaranth_sim():
    """slot_cycles 3 (the integrators count each slot once) on a 1 × 3 array: a forward."""
    cfg = TileConfig(in_size=3, out_size=1, slot_cycles=3, out_bound=2.0)
    ecfg = ECFG.replace(read_shift=6)
    ref = EmulatedCrossbarRef(cfg, ecfg)
    codes = np.array([cfg.dac_max, -5, 17])
    sc = cfg.converters.slot_cycles

    async def script(ctx, dut, player, rm, out):
        while ctx.get(dut.tile_en) == 0:
            await ctx.tick()
        pos, neg = pulse_width_drives(codes, cfg.converters.dac_bits)
        await player.step(ctx, adc_d_integ_reset=1)
        for t in range(cfg.dac_max):
            for _ in range(sc):
                await player.step(ctx, adc_d_integ_en=1, x_pos=_bits(pos[t]), x_neg=_bits(neg[t]))
        start = player.tile_cycle
        await player.step(ctx, adc_d_start=1)
        while not player.answers:
            await player.step(ctx)
        out["ans"] = player.answers[-1]
        out["start"] = start

    out, _ = _run_block(cfg, ecfg, script)
    want, _ = ref.read_forward_pulses(codes)
    assert out["ans"][0] - out["start"] == cfg.converters.adc_latency
    assert np.array_equal(_codes(out["ans"][2], 1, cfg.converters.adc_bits), want)


def test_frozen_master_channel_delivers_every_beat_once_amaranth_sim():
    """_hold_master: a source frozen by the enable offers beats 0, 1, 2, …; with random
    enables and random ready from the outside, the outside sees each beat exactly once and
    in order, and the offered beat is stable while it waits."""
    from amaranth import Elaboratable, EnableInserter, Module, Signal
    from rpu.rtl.emulator import _hold_master

    class Source(Elaboratable):
        def __init__(self):
            self.ready, self.data = Signal(), Signal(16)

        def elaborate(self, platform):
            m = Module()
            with m.If(self.ready):
                m.d.sync += self.data.eq(self.data + 1)
            return m

    class Gate(Elaboratable):
        def __init__(self):
            self.en, self.ready, self.valid, self.data = Signal(), Signal(), Signal(), Signal(16)
            self.src = Source()

        def elaborate(self, platform):
            m = Module()
            m.submodules.src = EnableInserter({"sync": self.en})(self.src)
            valid, ready = _hold_master(m, self.en, 1, self.ready, "t")
            m.d.comb += [self.valid.eq(valid), self.src.ready.eq(ready), self.data.eq(self.src.data)]
            return m

    dut = Gate()
    rng = np.random.default_rng(4)
    got, offered = [], []

    async def tb(ctx):
        for _ in range(3000):
            ctx.set(dut.en, int(rng.random() < 0.4))
            ctx.set(dut.ready, int(rng.random() < 0.5))
            if ctx.get(dut.valid):
                offered.append(ctx.get(dut.data))
                if ctx.get(dut.ready):
                    got.append(ctx.get(dut.data))
            await ctx.tick()

    simulate(dut, tb)
    assert len(got) > 500 and got == list(range(len(got)))
    assert set(offered) == set(got) or set(offered) - set(got) == {len(got)}


@pytest.mark.parametrize("shape", [(1, 1), (9, 1), (1, 4), (6, 8, 2)], ids=["1x1", "9x1", "1x4", "6x8-lpa2"])
def test_emulated_tile_verilog_is_lint_clean(tmp_path, shape):
    """Verilator's lint with only the project's width waivers (a one-row array once gave a
    zero-width memory address)."""
    from rpu.generate import lint_verilog
    from rpu.rtl.emulator import EMULATOR_TOP_NAME, EmulatedTile
    from rpu.rtl.generate import write_verilog
    from rpu.testbench.simulators import setup_verilator
    setup_verilator()
    n, m, *lpa = shape
    cfg = TileConfig(in_size=n, out_size=m, lines_per_adc=lpa[0] if lpa else 1)
    path = write_verilog(EmulatedTile(cfg, ECFG), EMULATOR_TOP_NAME, tmp_path)
    lint_verilog(path, EMULATOR_TOP_NAME)
