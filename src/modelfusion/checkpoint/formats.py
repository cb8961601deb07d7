"""Which reader opens a lone weight file of a format other than safetensors and PyTorch pickles."""

from __future__ import annotations

from pathlib import Path

FORMAT_SUFFIXES = (".h5", ".keras", ".onnx", ".gguf")
"""Keras .weights.h5 / .keras, ONNX, GGUF: single files only (never shards of a Hugging Face index)."""


def open_format_file(path: Path):
    """The reader for `path`'s format, or None for safetensors and pickles. Imports are lazy: each format's
    library is needed only when such a file is opened."""
    suffix = path.suffix
    if suffix in (".h5", ".keras"):
        from modelfusion.checkpoint.keras_file import KerasFile

        return KerasFile(path)
    if suffix == ".onnx":
        from modelfusion.checkpoint.onnx_file import OnnxFile

        return OnnxFile(path)
    if suffix == ".gguf":
        from modelfusion.checkpoint.gguf_file import GgufFile

        return GgufFile(path)
    return None
