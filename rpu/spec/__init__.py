"""The contract between the RTL, the models and the benches: number formats
(:mod:`~rpu.spec.formats`), codes (:mod:`~rpu.spec.encodings`), the register description
(:mod:`~rpu.spec.registers`), the random sources and sign phases (:mod:`~rpu.spec.streams`),
every cycle formula (:mod:`~rpu.spec.timing`), the emulated crossbar's formats
(:mod:`~rpu.spec.emulator`) and the board's serial link (:mod:`~rpu.spec.serial`).

It depends on the configuration only (no Amaranth, no numba, no numpy): every width and code
is written here once and derived everywhere else.
"""

from . import encodings, formats, params, registers, serial, streams, timing  # noqa: F401
