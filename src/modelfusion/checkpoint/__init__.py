"""Reading and writing weights: the only code that opens weight files."""

from modelfusion.checkpoint.checkpoint import Checkpoint, open_checkpoint
from modelfusion.checkpoint.tensor_info import TensorInfo

__all__ = ["Checkpoint", "TensorInfo", "open_checkpoint"]
