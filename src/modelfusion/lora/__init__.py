"""LoRA adapters as outputs: merging adapters into one (PEFT's add_weighted_adapter) and extracting an adapter
from a fine-tune by truncated SVD. Reads through checkpoint/, math from methods/ (adapter_merge, low_rank)."""
