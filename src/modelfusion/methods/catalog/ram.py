"""Specs of RAM and RAM+ tensor-local (math in methods/ram.py), with mergekit 0.1.5's names and defaults."""

from __future__ import annotations

from modelfusion.methods.spec import MergeMethod, ParamSpec

PAPER = "Reinforced Agent Merging (RAM), arXiv:2601.13572"
EPSILON = ParamSpec(
    "epsilon", float, default=1e-5, low=0.0, help="a model changed an entry when |theta_i - theta_base| > epsilon"
)

RAM = MergeMethod(
    name="ram",
    fn="modelfusion.methods.ram:ram",
    params=(EPSILON,),
    base_role="separate",
    elementwise=True,
    summary="Task vectors averaged over the models that changed each entry; a change made by one model is kept whole.",
    paper=PAPER,
)

RAMPLUS_TL = MergeMethod(
    name="ramplus_tl",
    fn="modelfusion.methods.ram:ramplus_tl",
    params=(
        ParamSpec("r", float, default=0.1, help="strength of the reinforcement of each model's unique changes"),
        ParamSpec("alpha", float, default=0.2, help="cap on the shared/unique ratio rho"),
        EPSILON,
    ),
    base_role="separate",
    summary="RAM with each model's unique changes amplified by 1 + r min(rho, alpha), rho its shared/unique ratio.",
    paper=PAPER,
)

RAM_FAMILY = (RAM, RAMPLUS_TL)
