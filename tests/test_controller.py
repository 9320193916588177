"""Fast block tests of the tile controller and top under Amaranth's simulator."""

import numpy as np
import pytest
from amaranth import Signal

from rpu.config import TileConfig
from rpu.models.ref_management import to_fixed
from rpu.rtl.controller import TileController, VectorBuffer
from rpu.spec.encodings import ErrorFlag, Op
from rpu.spec.registers import register_map
from rpu.rtl.tile import Tile
from rpu.testbench.amsim import simulate
from rpu.testbench.host import am_axil_read, am_axil_write
from rpu.testbench.lanes import pack_lanes

SMALL = TileConfig(in_size=8, out_size=4, stream_width=4)


@pytest.mark.parametrize("beats", [1, 3, 4])
def test_vector_buffer_push_and_rotate(beats):
    dut = VectorBuffer(beats, 8)
    values = [11 * (k + 1) for k in range(beats)]

    async def tb(ctx):
        for v in [99] + values:              # one beat too many: the oldest is pushed out
            ctx.set(dut.data, v)
            ctx.set(dut.push, 1)
            await ctx.tick()
        ctx.set(dut.push, 0)
        seen = []
        for _ in range(2 * beats):           # two full rotations: the order is kept
            seen.append(ctx.get(dut.head))
            ctx.set(dut.rotate, 1)
            await ctx.tick()
        assert seen == values * 2

    simulate(dut, tb)


@pytest.mark.parametrize("cls,args,exc", [
    (VectorBuffer, (0, 8), ValueError), (VectorBuffer, (2, "8"), TypeError),
    (TileController, ({"in_size": 4},), TypeError), (Tile, (None,), TypeError),
])
def test_bad_parameters(cls, args, exc):
    with pytest.raises(exc):
        cls(*args)


def test_controller_reset_cycles_validated():
    with pytest.raises(ValueError, match="adc_reset_cycles"):
        TileController(SMALL, adc_reset_cycles=0)
    with pytest.raises(TypeError, match="adc_reset_cycles"):
        TileController(SMALL, adc_reset_cycles=1.5)
    with pytest.raises(ValueError, match="vector_sets"):
        TileController(SMALL, vector_sets=1)
    with pytest.raises(TypeError, match="vector_sets"):
        TileController(SMALL, vector_sets="3")


def test_loader_flags_wrong_length_and_queue_amaranth_sim():
    """Wrong-length frames are dropped and flagged (no hang), a second queued command
    while the queue is full is refused, op 3 is refused; counts land in ERR_COUNT."""
    cfg = SMALL
    rm = register_map(cfg)
    dut = Tile(cfg)
    flag = {f.key: 1 << f for f in ErrorFlag}

    async def send(ctx, beats):
        s = dut.s_axis
        for i, b in enumerate(beats):
            ctx.set(s.tdata, b)
            ctx.set(s.tvalid, 1)
            ctx.set(s.tlast, int(i == len(beats) - 1))
            await ctx.tick()
            for _ in range(100):
                if ctx.get(s.tready):
                    break
                await ctx.tick()
        ctx.set(s.tvalid, 0)

    async def tb(ctx):
        bus = dut.s_axil
        x = to_fixed(cfg, np.linspace(-0.5, 0.5, cfg.in_size))
        good = _frame(cfg, x)
        ctrl = lambda op: rm.encode("CTRL", start=1, op=Op[op.upper()])   # noqa: E731
        assert await am_axil_read(ctx, bus, rm.addr("ID")) == 0x52505531
        # short frame (tlast on the first of two beats)
        await am_axil_write(ctx, bus, rm.addr("CTRL"), ctrl("forward"))
        await send(ctx, good[:1])
        # long frame (three beats for two)
        await am_axil_write(ctx, bus, rm.addr("CTRL"), ctrl("forward"))
        await send(ctx, good + good[:1])
        for _ in range(5):
            await ctx.tick()
        assert await am_axil_read(ctx, bus, rm.addr("ERROR")) == flag["stream_length"]
        assert await am_axil_read(ctx, bus, rm.addr("ERR_COUNT")) == 2
        st = rm.decode("STATUS", await am_axil_read(ctx, bus, rm.addr("STATUS")))
        assert st["busy"] == 0 and st["loading"] == 0 and st["cmd_ready"] == 1
        # op 3, then three starts: one taken by the loader, one queued, one refused
        await am_axil_write(ctx, bus, rm.addr("CTRL"), rm.encode("CTRL", start=1, op=3))
        for _ in range(3):
            await am_axil_write(ctx, bus, rm.addr("CTRL"), ctrl("backward"))
        err = await am_axil_read(ctx, bus, rm.addr("ERROR"))
        assert err == flag["stream_length"] | flag["bad_op"] | flag["cmd_busy"]
        assert await am_axil_read(ctx, bus, rm.addr("ERR_COUNT")) == 4
        st = rm.decode("STATUS", await am_axil_read(ctx, bus, rm.addr("STATUS")))
        assert st["loading"] == 1 and st["cmd_ready"] == 0
        await am_axil_write(ctx, bus, rm.addr("ERROR"), flag["bad_op"])    # write 1 to clear
        assert await am_axil_read(ctx, bus, rm.addr("ERROR")) == flag["stream_length"] | flag["cmd_busy"]
        await am_axil_write(ctx, bus, rm.addr("CTRL"), rm.encode("CTRL", clear_counters=1))
        assert await am_axil_read(ctx, bus, rm.addr("ERR_COUNT")) == 0

    simulate(dut, tb)


# ---- back-to-back operations at the controller ports (host keeps the stream full) ----

def _frame(cfg, values):
    lanes = cfg.host.stream_width
    return [pack_lanes(values[i:i + lanes], cfg.host.value_bits) for i in range(0, len(values), lanes)]


def _vectors(cfg, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, cfg.in_size)
    d = rng.uniform(-1, 1, cfg.out_size)
    x[0], x[-1], d[0], d[-1] = 1, -1, 0.5, -0.5             # all four sign quadrants
    return to_fixed(cfg, x), to_fixed(cfg, d)


def run_controller(cfg, commands, frames, *, adc_code=0, vector_sets=None, limit=20000,
                   seed=0, p_gap=0.0, p_stall=0.0, p_host_wait=0.0, p_eager=0.0, adc_wait=0,
                   max_wait=4, refuse_while_burst=False, reset_at=None, after_reset=None,
                   expect_done=None, tail=0):
    """Drive a bare TileController (registers at their ``registers_from_config`` values)
    with ``commands`` and stream ``frames`` in order; returns what its ports did.

    ``commands``: ``(op, count)`` pairs, op a name of :class:`Op` or ``"bad"`` (op code 3),
    each started when the host sees ``cmd_ready`` (after a random wait with probability
    ``p_host_wait``; with probability ``p_eager`` at once, starting every cycle until it is
    taken; a refused start, ``ev_cmd_busy``, is retried).  ``frames``: lists of beats,
    ``tlast`` on each list's last beat (so wrong-length frames are lists of the wrong
    length).  ``expect_done``: operations to wait for (default: the commands' counts; fewer
    when frames are malformed); ``tail``: cycles watched after them.  ``adc_code``: the
    code every ADC answers with at once, or ``(pass_number, n_adcs) -> codes`` (passes
    numbered over the whole run, in order).
    ``p_gap``: probability of a ``tvalid`` gap (1..``max_wait`` cycles) before a beat;
    ``p_stall``: probability per cycle of ``m_axis.tready`` low; ``adc_wait``: each
    ``adc_done`` comes 1 + random(0..adc_wait) cycles after its ``adc_start`` (else ``done``
    is held high: the answer in the next cycle); all draws seeded by ``seed``.
    ``refuse_while_burst``: after the first command, check three more starts are refused
    (a burst stays queued).  ``reset_at``: pulse the domain reset in that cycle, abandon
    the first host/stream, then reload the seeds and run ``after_reset`` =
    ``(commands, frames)``.

    Returns a dict of lists: ``starts`` (first slot cycle of each update), ``slots``
    (drives of every slot, grouped by update); per finished op ``done`` (name), ``done_at``
    (cycle of ``ev_done``), ``passes`` (BM), ``cycles`` (``op_cycles``), ``stalls`` (cycles
    a result beat waited for ``tready``), ``adc_waits`` (ADC answer cycles past the first);
    ``results`` (result frames); ``read_drives`` (per read, per pass: net drive
    ``pos − neg`` of every x- then d-line summed over the integration window); ``stray``
    (cycles with a line at both polarities, or driven outside an integration window and an
    update); ``events`` (counts of ``stream_length``,
    ``cmd_busy``, ``bad_op``); ``reset_done`` (ops finished before the reset); ``extra``
    (ops finished in the ``tail``), ``idle`` (at its end: not busy, not loading, queue empty)."""
    from amaranth.hdl import ResetInserter
    from amaranth.sim import Simulator
    from rpu.spec.encodings import RunState
    from rpu.spec.formats import registers_from_config
    kw = {} if vector_sets is None else dict(vector_sets=vector_sets)
    dut = TileController(cfg, **kw)
    rst = Signal()
    regs = registers_from_config(cfg)
    ports = dict(bl="bl", bl_max="bl_max", nm_mode="nm_mode", bm_enable="bm_enable",
                 bm_max_passes="bm_cap", um_enable="um_enable", dyn_bl="dyn_bl",
                 out_scale="out_scale", um_c="um_c", um_c1="um_c1", um_lr_dw="um_lr_dw")
    segments = [(commands, frames)] + ([after_reset] if reset_at is not None else [])
    n_done = (sum(max(c, 1) for op, c in segments[-1][0] if op != "bad")
              if expect_done is None else expect_done)    # ops to wait for at the end
    out = dict(starts=[], slots=[], done=[], done_at=[], results=[], passes=[], cycles=[],
               stalls=[], adc_waits=[], read_drives=[], stray=0, extra=0, idle=None,
               events=dict(stream_length=0, cmd_busy=0, bad_op=0), reset_done=None)
    rng = np.random.default_rng(seed)
    seg = {"n": 0, "sent": 0}            # segment being run (bumped by the reset), and
    #                                      host + stream processes finished

    async def host(ctx):
        for reg, port in ports.items():
            ctx.set(getattr(dut, port), regs[reg])
        for k, (cmds, _) in enumerate(segments):
            while seg["n"] < k:
                await ctx.tick()
            ctx.set(dut.x_seed, cfg.update.x_seed)
            ctx.set(dut.d_seed, cfg.update.d_seed)
            ctx.set(dut.seed_load, 1)
            await ctx.tick()
            ctx.set(dut.seed_load, 0)
            for n, (op, count) in enumerate(cmds):
                if rng.random() < p_host_wait:
                    for _ in range(int(rng.integers(1, max_wait + 1))):
                        await ctx.tick()
                eager = rng.random() < p_eager     # start every cycle until taken
                while seg["n"] == k:
                    while not eager and not ctx.get(dut.cmd_ready) and seg["n"] == k:
                        await ctx.tick()
                    if seg["n"] != k:
                        break
                    ctx.set(dut.cmd_start, 1)
                    ctx.set(dut.cmd_op, 3 if op == "bad" else Op[op.upper()])
                    ctx.set(dut.cmd_count, count)
                    _, _, busy, bad = await ctx.tick().sample(dut.ev_cmd_busy, dut.ev_bad_op)
                    ctx.set(dut.cmd_start, 0)
                    ctx.set(dut.cmd_count, 0)
                    assert bool(bad) == (op == "bad")
                    if not busy:
                        break
                if refuse_while_burst and n == 0:
                    ctx.set(dut.cmd_start, 1)
                    for _ in range(3):      # the burst stays queued: more starts are refused
                        _, _, busy = await ctx.tick().sample(dut.ev_cmd_busy)
                        assert busy and not ctx.get(dut.cmd_ready)
                    ctx.set(dut.cmd_start, 0)
        seg["sent"] += 1

    async def stream(ctx):
        s = dut.s_axis
        for k, (_, frs) in enumerate(segments):
            while seg["n"] < k:
                await ctx.tick()
            await ctx.tick()
            for fr in frs:
                for i, b in enumerate(fr):
                    if seg["n"] != k:
                        break
                    if rng.random() < p_gap:
                        ctx.set(s.tvalid, 0)
                        for _ in range(int(rng.integers(1, max_wait + 1))):
                            await ctx.tick()
                    ctx.set(s.tdata, b)
                    ctx.set(s.tlast, int(i == len(fr) - 1))
                    ctx.set(s.tvalid, 1)
                    while not ctx.get(s.tready) and seg["n"] == k:
                        await ctx.tick()
                    await ctx.tick()
            ctx.set(s.tvalid, 0)
        seg["sent"] += 1

    async def world(ctx):
        """ADCs, result sink, monitor and the reset."""
        full = (1 << cfg.converters.adc_bits) - 1
        adcs = ((dut.adc_d, cfg.num_adcs_d), (dut.adc_x, cfg.num_adcs_x))

        def answer(n_pass):
            for adc, n in adcs:
                codes = (np.full(n, adc_code) if not callable(adc_code)
                         else np.asarray(adc_code(n_pass, n)))
                ctx.set(adc.codes, sum((int(c) & full) << (cfg.converters.adc_bits * i)
                                       for i, c in enumerate(codes)))
        due = [None, None]                   # cycle of each direction's next adc_done
        for adc, _ in adcs:
            ctx.set(adc.done, int(not adc_wait))
        answer(0)
        n_pass, prev_reset, cyc, stalls, waits, frame, upd = 0, 0, 0, 0, 0, [], []
        lines = [dut.x_pos, dut.x_neg, dut.d_pos, dut.d_neg]
        net, read = None, []                 # net drive of the pass being integrated
        zeros = [np.zeros(len(p), np.int64) for p in lines]

        while len(out["done"]) < n_done or seg["n"] < len(segments) - 1 or seg["sent"] < 2:
            if cyc == reset_at:
                seg["n"] += 1                # first: the host and stream see it at the edge
                ctx.set(rst, 1)
                await ctx.tick()
                ctx.set(rst, 0)
                cyc += 1
                out["reset_done"] = out["done"]
                out.update(done=[], done_at=[], passes=[], cycles=[], stalls=[], results=[],
                           slots=[], starts=[], read_drives=[], stray=0, adc_waits=[])
                stalls, waits, frame, upd, net, read = 0, 0, [], [], None, []
                due = [None, None]
            if adc_wait:                     # done 1 + random(0..adc_wait) cycles after start
                for j, (adc, _) in enumerate(adcs):
                    ctx.set(adc.done, int(cyc == due[j]))
                    if ctx.get(adc.start):
                        extra = int(rng.integers(0, adc_wait + 1))
                        due[j] = cyc + 1 + extra
                        waits += extra
            ready = int(rng.random() >= p_stall)
            ctx.set(dut.m_axis.tready, ready)
            in_reset = ctx.get(dut.adc_d.integ_reset) | ctx.get(dut.adc_x.integ_reset)
            if in_reset and not prev_reset:      # a new pass: its codes
                answer(n_pass)
                n_pass += 1
            prev_reset = in_reset
            raw = [ctx.get(p) for p in lines]
            drv = [np.array([(v >> i) & 1 for i in range(len(p))]) if v else zeros[j]
                   for j, (v, p) in enumerate(zip(raw, lines))]
            if ctx.get(dut.upd_slot):
                if not upd:
                    out["starts"].append(cyc)
                upd.append(np.concatenate(drv))
            integ = ctx.get(dut.adc_d.integ_en) | ctx.get(dut.adc_x.integ_en)
            if integ:                        # read pulses: accumulate the net drive
                now = np.concatenate([drv[0] - drv[1], drv[2] - drv[3]])
                net = now if net is None else net + now
            elif net is not None:
                read.append(net)
                net = None
            if (raw[0] & raw[1] or raw[2] & raw[3]
                    or (not integ and any(raw) and ctx.get(dut.state) != RunState.UPDATE)):
                out["stray"] += 1
            if ctx.get(dut.m_axis.tvalid):
                if ready:
                    frame.append(ctx.get(dut.m_axis.tdata))
                    if ctx.get(dut.m_axis.tlast):
                        out["results"].append(frame)
                        frame = []
                else:
                    stalls += 1
            for ev in out["events"]:
                out["events"][ev] += ctx.get(getattr(dut, f"ev_{ev}"))
            if ctx.get(dut.ev_done):
                op = Op(ctx.get(dut.done_op)).name.lower()
                out["done"].append(op)
                out["done_at"].append(cyc)
                out["passes"].append(ctx.get(dut.last_passes))
                out["cycles"].append(ctx.get(dut.op_cycles))
                out["stalls"].append(stalls)
                out["adc_waits"].append(waits)
                stalls = waits = 0
                if op == "update":
                    out["slots"].append(upd)
                    upd = []
                else:
                    out["read_drives"].append(read)
                    read = []
            await ctx.tick()
            cyc += 1
            assert cyc < limit, f"hang: done {out['done']}"
        for _ in range(tail):                # nothing more may run
            out["extra"] += ctx.get(dut.ev_done)
            await ctx.tick()
        out["idle"] = not (ctx.get(dut.busy) or ctx.get(dut.loading)) and ctx.get(dut.cmd_ready)

    sim = Simulator(ResetInserter({"sync": rst})(dut))
    sim.add_clock(1e-8)
    for tb in (host, stream, world):
        sim.add_testbench(tb)
    sim.run()
    return out


def _run_ops(cfg, ops, x, d, *, adc_code=0, vector_sets=None, limit=20000, burst=False):
    """Queue ``ops`` back to back (same x, d every time) on a bare TileController, ADCs
    answering at once with ``adc_code`` on every line (:func:`run_controller`).  ``burst``:
    all ``ops`` (one kind) from a single command with ``cmd_count``; a second command tried
    while it is queued must be refused."""
    frames = {"forward": [_frame(cfg, x)], "backward": [_frame(cfg, d)],
              "update": [_frame(cfg, x), _frame(cfg, d)]}
    if burst:
        assert len(set(ops)) == 1
        commands = [(ops[0], len(ops))]
    else:
        commands = [(op, 0) for op in ops]
    return run_controller(cfg, commands, [f for op in ops for f in frames[op]],
                          adc_code=adc_code, vector_sets=vector_sets, limit=limit,
                          refuse_while_burst=burst)


@pytest.mark.parametrize("cfg,sets,limit", [
    (TileConfig(in_size=8, out_size=4, stream_width=4), None, "pulses"),
    (TileConfig(in_size=32, out_size=16, stream_width=1), None, "load"),
    (TileConfig(in_size=8, out_size=4, stream_width=4, bl=2), None, "um"),
    (TileConfig(in_size=8, out_size=4, stream_width=4), 2, "pulses"),
], ids=["pulse-bound", "load-bound", "um-bound", "two-sets"])
def test_back_to_back_updates_period_amaranth_sim(cfg, sets, limit):
    """Updates queued back to back start exactly ``update_period`` cycles apart, whichever
    term bounds it (pulse time, vector load time, update-manager spacing), and every update
    drives the reference's pulse streams."""
    from rpu.models.ref_management import update_codes
    from rpu.models.ref_stochastic import UpdateStreamsModel, active_phases
    from rpu.spec.timing import um_interval, update_cycles, update_period, vector_cycles
    x, d = _vectors(cfg, 3)
    n = 6
    out = _run_ops(cfg, ["update"] * n, x, d, vector_sets=sets)
    codes = update_codes(cfg, x, d)
    phases = len(active_phases(codes.x_codes, codes.d_codes))
    want = update_period(cfg, phases, codes.bl)
    terms = dict(pulses=update_cycles(cfg, phases, codes.bl), load=vector_cycles(cfg),
                 um=um_interval(cfg))
    assert max(terms, key=terms.get) == limit and sorted(terms.values())[-2] < want, terms
    gaps = np.diff(out["starts"]).tolist()
    assert len(gaps) == n - 1 and all(g == want for g in gaps[1:]), f"gaps {gaps}, formula {want}"
    ref = UpdateStreamsModel(cfg)
    for k in range(n):
        drv = ref.drives(codes.x_codes, codes.d_codes, codes.bl)
        exp = np.concatenate([drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg], axis=1)
        assert np.array_equal(np.array(out["slots"][k], dtype=bool), exp), f"update {k} drives"


def test_burst_command_runs_count_updates_back_to_back_amaranth_sim():
    """One command with ``cmd_count`` = 5 runs 5 updates at the same period and with the
    same drives as 5 queued commands; starts while it is queued are refused (cmd_busy)."""
    cfg = TileConfig(in_size=8, out_size=4, stream_width=4)
    x, d = _vectors(cfg, 5)
    queued = _run_ops(cfg, ["update"] * 5, x, d)
    burst = _run_ops(cfg, ["update"] * 5, x, d, burst=True)
    assert burst["done"] == ["update"] * 5
    assert np.diff(burst["starts"]).tolist()[1:] == np.diff(queued["starts"]).tolist()[1:]
    assert all(np.array_equal(a, b) for a, b in zip(burst["slots"], queued["slots"]))


def test_two_sets_alternate_when_the_set_loop_is_long_amaranth_sim():
    """Why three sets: with two, a load-bound shape holds each set from load through UM to
    conversion (2 + B_x + B_d + L_um + max(B_x, B_d) cycles) for longer than two load
    times, and the gaps alternate around half that loop instead of the load time."""
    from rpu.spec.timing import stream_beats as beats, um_cycles, vector_cycles
    cfg = TileConfig(in_size=32, out_size=16, stream_width=1)
    x, d = _vectors(cfg, 3)
    bx, bd = beats(cfg.in_size, 1), beats(cfg.out_size, 1)
    loop = 2 + bx + bd + um_cycles(cfg) + max(bx, bd)
    assert loop > 2 * vector_cycles(cfg)
    gaps = np.diff(_run_ops(cfg, ["update"] * 6, x, d, vector_sets=2)["starts"]).tolist()
    assert gaps[1] != gaps[2] and gaps[1] + gaps[2] == loop, gaps


@pytest.mark.parametrize("saturate", [False, True], ids=["no-saturation", "saturating-retries"])
def test_mixed_queue_in_order_amaranth_sim(saturate):
    """Update, forward, update, backward, update, forward queued back to back: operations
    finish in command order, every read returns one full frame, the updates drive the
    reference streams (reads do not disturb the pulse generators), and a saturating forward
    retries up to the cap (its set is held and reloaded while an update waits)."""
    from rpu.models.ref_management import update_codes
    from rpu.models.ref_stochastic import UpdateStreamsModel
    from rpu.spec.timing import stream_beats as beats
    cfg = SMALL
    ops = ["update", "forward", "update", "backward", "update", "forward"]
    x, d = _vectors(cfg, 5)
    adc_code = (1 << (cfg.converters.adc_bits - 1)) - 1 if saturate else 0      # full scale saturates
    out = _run_ops(cfg, ops, x, d, adc_code=adc_code)
    assert out["done"] == ops
    lanes = cfg.host.stream_width
    by, bz = beats(cfg.out_size, lanes), beats(cfg.in_size, lanes)
    assert [len(r) for r in out["results"]] == [by, bz, by]
    fwd_passes = [p for op, p in zip(out["done"], out["passes"]) if op == "forward"]
    assert fwd_passes == ([cfg.io.bm_max_passes] * 2 if saturate else [1, 1])
    codes = update_codes(cfg, x, d)
    ref = UpdateStreamsModel(cfg)
    assert len(out["slots"]) == 3
    for k in range(3):
        drv = ref.drives(codes.x_codes, codes.d_codes, codes.bl)
        exp = np.concatenate([drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg], axis=1)
        assert np.array_equal(np.array(out["slots"][k], dtype=bool), exp), f"update {k} drives"
