"""The tile controller: a command queue and four pipelined stages (load, manage, convert,
run) over a few vector buffer sets, around the line drivers, the management blocks and the
ADC interfaces."""

from .convert import ConvertStage
from .loader import Loader
from .manage import ManageStage
from .queue import CommandQueue
from .run import RunSequencer
from .sets import VectorBuffer, VectorSets
from .top import AnalogReadSignature, TileController

__all__ = ["TileController", "AnalogReadSignature", "CommandQueue", "Loader", "ManageStage",
           "ConvertStage", "RunSequencer", "VectorSets", "VectorBuffer"]
