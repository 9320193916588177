"""The board's host driver (rpu.driver.SerialHost) on a scripted byte link: the window of
unanswered request bytes never exceeds the bridge's receive FIFO, answers out of step and
refused beats are one-line errors, a bridge with other formats is refused at connect, and
a missing pyserial is the install line.  (Against the real gateware: test_board_cosim.py.)"""

import asyncio
import sys

import pytest

from rpu.config import EmulatorConfig, TileConfig
from rpu.driver import LinkError, SerialHost, SerialPortLink
from rpu.errors import MissingExtraError
from rpu.spec.serial import Cmd, Status, serial_format, status_byte

CFG, ECFG = TileConfig(in_size=8, out_size=6), EmulatorConfig()
FMT = serial_format(CFG, ECFG)


class ScriptedBridge:
    """Answers each request when it is *read for*, as a slow bridge would; records the
    largest number of unanswered request bytes."""

    def __init__(self, *, push_status=Status.OKAY, info=None):
        self.requests, self.out = [], bytearray()
        self.unanswered = self.most_unanswered = 0
        self.push_status, self.info = push_status, info or FMT.info_data()

    async def write(self, data):
        self.requests.append(bytes(data))
        self.unanswered += len(data)
        self.most_unanswered = max(self.most_unanswered, self.unanswered)

    async def read(self, n):
        while len(self.out) < n:
            req = self.requests.pop(0)
            self.unanswered -= len(req)
            cmd = req[0]
            if cmd == Cmd.INFO:
                self.out += bytes([status_byte(cmd, 0)]) + self.info
            elif cmd == Cmd.PUSH:
                self.out.append(status_byte(cmd, self.push_status))
            elif cmd == Cmd.WRITE:
                self.out.append(status_byte(cmd, 0))
            elif cmd == Cmd.READ:
                self.out += bytes([status_byte(Cmd.WRITE, 0)])           # out of step
        data = bytes(self.out[:n])
        del self.out[:n]
        return data


def test_pushes_are_pipelined_within_the_receive_fifo():
    link = ScriptedBridge()
    host = SerialHost(link, CFG, ECFG)

    async def main():
        await host.connect()
        for _ in range(20):
            await host.update([1] * 8, [2] * 6)
        await host.wait_sent()
    asyncio.run(main())
    push = 2 + FMT.in_beat_bytes
    assert sum(r[0] == Cmd.PUSH for r in link.requests) == 0      # all answered
    assert FMT.rx_fifo_depth - push < link.most_unanswered <= FMT.rx_fifo_depth
    assert host.bytes_sent == 1 + 20 * (len(FMT.write(0, 0)) + 4 * push)


def test_out_of_step_answers_and_refused_beats_are_link_errors():
    host = SerialHost(ScriptedBridge(), CFG, ECFG)
    with pytest.raises(LinkError, match="answer 0x20 to a READ request is out of step"):
        asyncio.run(host.read("ID"))
    host = SerialHost(ScriptedBridge(push_status=Status.EMPTY), CFG, ECFG)

    async def push():
        await host.send([1] * 8)
        await host.wait_sent()
    with pytest.raises(LinkError, match=r"a vector beat was refused \(EMPTY\)"):
        asyncio.run(push())


def test_connect_refuses_a_bridge_with_other_formats():
    other = serial_format(TileConfig(in_size=8, out_size=6, stream_width=8), ECFG).info_data()
    host = SerialHost(ScriptedBridge(info=other), CFG, ECFG)
    with pytest.raises(LinkError, match=r"differs from this configuration .*in_beat_bytes': \(16, 8\)"):
        asyncio.run(host.connect())


def test_missing_pyserial_is_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "serial", None)
    with pytest.raises(MissingExtraError) as e:
        SerialPortLink("/dev/ttyUSB0")
    assert "\n" not in str(e.value) and "pip install 'rpu-periphery[board]'" in str(e.value)
