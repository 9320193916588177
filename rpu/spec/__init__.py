"""The contract between the RTL, the models and the benches: number formats
(:mod:`~rpu.spec.formats`), codes (:mod:`~rpu.spec.encodings`), the register description
(:mod:`~rpu.spec.registers`), the random sources and sign phases (:mod:`~rpu.spec.streams`)
and every cycle formula (:mod:`~rpu.spec.timing`).

It depends on the configuration only (no Amaranth, no numba, no numpy): every width and code
is written here once and derived everywhere else.
"""

from . import encodings, formats, params, registers, streams, timing  # noqa: F401
