"""moe/: assemble a mixture-of-experts model from dense models (mergekit-moe's config schema): a base model's
attention, norms and embeddings, each expert's MLP, and routers from the experts' prompts (docs/moe.md)."""

from modelfusion.moe.build import MoEOptions, MoEResult, build_moe
from modelfusion.moe.config import MoEConfig, load_config

__all__ = ["MoEConfig", "MoEOptions", "MoEResult", "build_moe", "load_config"]
