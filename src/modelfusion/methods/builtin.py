"""Import every built-in method module so each registers itself."""

from modelfusion.methods import (  # noqa: F401
    arcee_fusion,
    breadcrumbs,
    dare,
    della,
    karcher,
    linear,
    model_stock,
    multislerp,
    nearswap,
    nuslerp,
    passthrough,
    sce,
    slerp,
    task_arithmetic,
    ties,
)
