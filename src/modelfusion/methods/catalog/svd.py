"""Specs of the data-free SVD family: TSV-M, Iso-C, Iso-CTS (math in tsv.py, iso.py, subspace.py).

Whole-tensor methods (an SVD needs the whole matrix): 2-D tensors are merged in their singular bases, every other
tensor gets the mean task vector; `alpha` scales the merged update added to the base.
"""

from __future__ import annotations

from modelfusion.methods.memory import svd_memory
from modelfusion.methods.spec import MergeMethod, ParamSpec

ALPHA = ParamSpec("alpha", float, default=1.0, help="scale of the merged task update added to the base")
ISO_PAPER = (
    "Marczak et al. 2025, No task left behind: isotropic model merging with common and task-specific "
    "subspaces, arXiv:2502.04959"
)

TSV = MergeMethod(
    name="tsv",
    fn="modelfusion.methods.tsv:tsv",
    params=(ALPHA,),
    base_role="separate",
    min_models=1,
    whole_memory=svd_memory,
    aliases=("tsv_m",),
    summary="Each task's top 1/T singular directions, decorrelated (orthogonalised) and summed onto the base.",
    paper="Gargiulo et al. 2025, Task Singular Vectors: reducing task interference in model merging, arXiv:2412.00081",
)

ISO_C = MergeMethod(
    name="iso_c",
    fn="modelfusion.methods.iso:iso_c",
    params=(ALPHA,),
    base_role="separate",
    min_models=1,
    whole_memory=svd_memory,
    summary="Sum of the task matrices with its singular values flattened to their mean (isotropic spectrum).",
    paper=ISO_PAPER,
)

ISO_CTS = MergeMethod(
    name="iso_cts",
    fn="modelfusion.methods.iso:iso_cts",
    params=(
        ALPHA,
        ParamSpec(
            "common_space_fraction",
            float,
            default=0.8,
            low=0.0,
            high=1.0,
            help="share of the rank kept from the summed task matrix; the rest split among the tasks",
        ),
    ),
    base_role="separate",
    min_models=1,
    whole_memory=svd_memory,
    summary="Iso-C whose least significant common directions are replaced by each task's own directions.",
    paper=ISO_PAPER,
)

SVD_FAMILY = (TSV, ISO_C, ISO_CTS)
