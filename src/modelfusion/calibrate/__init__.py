"""calibrate/: the only code that runs models. Calibration data in, per-tensor statistics out (Gram matrices of
linear layers' inputs for RegMean, diagonal Fisher information for Fisher merging), written as a safetensors
file that a recipe's `statistics:` key gives the data-aware methods (docs/methods.md, "Calibration")."""

from modelfusion.calibrate.data import Batch, as_batches, text_batches
from modelfusion.calibrate.fisher import fisher_statistics
from modelfusion.calibrate.gram import gram_statistics
from modelfusion.calibrate.hf_model import load_model, load_tokenizer
from modelfusion.calibrate.run import STATISTICS, CalibrationResult, calibrate

__all__ = [
    "STATISTICS",
    "Batch",
    "CalibrationResult",
    "as_batches",
    "calibrate",
    "fisher_statistics",
    "gram_statistics",
    "load_model",
    "load_tokenizer",
    "text_batches",
]
