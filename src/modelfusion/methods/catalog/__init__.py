"""The built-in merge methods as torch-free specs; their math is imported when a method first runs."""

from __future__ import annotations

from modelfusion.methods.catalog.averaging import AVERAGING
from modelfusion.methods.catalog.data_aware import DATA_AWARE
from modelfusion.methods.catalog.interpolation import INTERPOLATION
from modelfusion.methods.catalog.ram import RAM_FAMILY
from modelfusion.methods.catalog.svd import SVD_FAMILY
from modelfusion.methods.catalog.task_vector_methods import SCE, TASK_VECTOR
from modelfusion.methods.spec import MergeMethod

BUILTIN: tuple[MergeMethod, ...] = (
    *AVERAGING,
    *INTERPOLATION,
    *TASK_VECTOR,
    SCE,
    *RAM_FAMILY,
    *DATA_AWARE,
    *SVD_FAMILY,
)
