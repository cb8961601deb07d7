"""LoRA benchmarks: extraction speed and memory against mergekit-extract-lora (run as modules from the repo root)."""
