"""Fake Flower replies around tiny state dicts (no Grid, no Ray)."""

from __future__ import annotations

import torch


def state(seed: int, scale: float = 1.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "layer.weight": torch.randn(6, 5, generator=g) * scale,
        "layer.bias": torch.randn(6, generator=g) * scale,
        "head.weight": torch.randn(3, 6, generator=g) * scale,
    }


def clients(global_sd: dict[str, torch.Tensor], n: int = 3, seed: int = 10) -> list[dict[str, torch.Tensor]]:
    """Fine-tunes of `global_sd`: global + small random updates."""
    return [{k: v + 0.1 * state(seed + i)[k] for k, v in global_sd.items()} for i in range(n)]


def metadata(node: int):
    """Metadata of a train reply from `node` (as the SuperLink would stamp it)."""
    from flwr.app import Metadata

    return Metadata(
        run_id=1,
        message_id=f"m{node}",
        src_node_id=node,
        dst_node_id=0,
        reply_to_message_id="i",
        group_id="1",
        created_at=0.0,
        ttl=60.0,
        message_type="train",
    )


def reply(sd: dict, num_examples: float, node: int, metrics: dict | None = None):
    """The reply a ClientApp on `node` would send after training to `sd` on `num_examples` examples."""
    from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict

    content = RecordDict(
        {"arrays": ArrayRecord(sd), "metrics": MetricRecord({"num-examples": num_examples, **(metrics or {})})}
    )
    return Message(content=content, metadata=metadata(node))


def error_reply(reason: str, node: int):
    from flwr.app import Error, Message

    return Message(error=Error(code=0, reason=reason), metadata=metadata(node))
