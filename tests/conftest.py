"""Shared pytest set-up: the ``sim`` parameter runs a co-simulation under each simulator.

``--sim both`` (default) parametrises every test that takes ``sim`` over Icarus and
Verilator (test ids end in ``[icarus]`` / ``[verilator]``); a missing or old simulator
makes those tests fail with the install instruction, never skip.
"""

import os

import pytest

SIMS = ("icarus", "verilator")


def pytest_addoption(parser):
    parser.addoption("--sim", choices=("icarus", "verilator", "both"), default="both",
                     help="simulator(s) for co-simulation tests")


def pytest_configure(config):
    os.environ.setdefault("RPU_BUILD_DIR", os.path.join(str(config.rootpath), "build"))


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        choice = metafunc.config.getoption("sim")
        metafunc.parametrize("sim", SIMS if choice == "both" else (choice,))


def pytest_collection_modifyitems(items):
    for item in items:
        if "sim" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cosim)


@pytest.fixture
def waves():
    return os.environ.get("RPU_WAVES") == "1"
