"""Stream a planned MoE into safetensors shards in a staging folder beside OUT, then publish it atomically.

One tensor is in memory at a time (read, noise / residual scale applied, cast, written at its offset); the
routers, computed beforehand, are (layers x experts x hidden) and small.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from modelfusion.checkpoint import Checkpoint, TensorInfo
from modelfusion.checkpoint.companions import copy_companions, write_model_card
from modelfusion.checkpoint.provenance import ModelSource, write_provenance
from modelfusion.checkpoint.publish import discard, make_staging, publish
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.checkpoint.shard_writer import ShardWriter
from modelfusion.errors import OutputError
from modelfusion.moe.plan import ROUTER, SHARED_ROUTER, ZEROS, MoEPlan, OutTensor
from modelfusion.version import __version__

CONFIG_COPY = "modelfusion_moe.yaml"


def tensor_data(
    t: OutTensor, models: list[Checkpoint], routers: torch.Tensor, experts: int, generator: torch.Generator
) -> torch.Tensor:
    """The data of one output tensor. An expert's tensor W becomes W + noise_scale * N(0, 1) (noise drawn from
    `generator`, in W's shape), and a down_proj is then multiplied by residual_scale (mergekit's order)."""
    if t.source == ROUTER:
        return routers[t.layer, :experts]
    if t.source == SHARED_ROUTER:
        return routers[t.layer, experts:]
    if t.source == ZEROS:
        return torch.zeros(t.shape)
    assert t.model is not None and t.source is not None
    tensor = models[t.model].read(t.source)
    spec = t.expert
    if spec is not None and spec.noise_scale is not None:
        tensor = tensor + torch.randn(t.shape, generator=generator).to(tensor.dtype) * spec.noise_scale
    if spec is not None and t.residual and spec.residual_scale is not None:
        tensor = tensor * spec.residual_scale
    return tensor


def write_moe(
    plan: MoEPlan,
    models: list[Checkpoint],
    routers: torch.Tensor,
    experts: int,
    out: Path,
    out_config: dict,
    out_dtype: torch.dtype,
    *,
    base_folder: Path,
    config_text: str,
    seed: int,
    overwrite: bool,
    shard_bytes: int,
    copy_tokenizer: bool = True,
    model_card: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ShardLayout:
    """Write the MoE at `out`: shards, index, config.json, the base's tokenizer and generation config, the model
    card with the config, provenance. Nothing appears at `out` unless everything was written."""
    infos = [TensorInfo(t.name, t.shape, out_dtype, "") for t in plan.tensors]
    layout = ShardLayout(infos, shard_bytes)
    generator = torch.Generator().manual_seed(seed)
    staging = make_staging(out)
    try:
        writer = ShardWriter(staging, layout)
        try:
            for done, t in enumerate(plan.tensors, start=1):
                data = tensor_data(t, models, routers, experts, generator)
                writer.write(t.name, data.to(out_dtype).contiguous())
                if progress is not None:
                    progress(done, len(plan.tensors))
            writer.sync()
        finally:
            writer.close()
        index = layout.index_json()
        if index is not None:
            (staging / "model.safetensors.index.json").write_text(index, encoding="utf-8")
        copy_companions(base_folder, staging, out_config, out_dtype, skip_tokenizer=not copy_tokenizer)
        if model_card:
            sources = [ModelSource(m.label, m.path, tuple(Path(f) for f in m.source_files())) for m in models]
            write_model_card(staging, sources, config_text, "moe")
            write_provenance(staging, sources, "moe", __version__)
            (staging / CONFIG_COPY).write_text(config_text, encoding="utf-8")
        publish(staging, out, overwrite)
    except OSError as e:
        discard(staging)
        raise OutputError(f"{e.strerror or e}; nothing was published", where=e.filename or str(out)) from None
    except BaseException:
        discard(staging)
        raise
    return layout


def config_dict(out_config) -> dict:
    """The output config as `save_pretrained` writes config.json (copy_companions then sets its dtype)."""
    return json.loads(out_config.to_json_string())
