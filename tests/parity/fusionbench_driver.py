"""Runs FusionBench 0.2.33's algorithms on the tiny models of a work folder; executed by the FusionBench venv's
Python (.peers/fusionbench/bin/python this_file WORK), never imported there by modelfusion code.

FusionBench is a black box: its model pool of nn.Modules and algorithm classes (TSV-M, Iso-C, Iso-CTS), its
RegMean function end to end (Gram hooks + merge) fed by a minimal trainer stand-in, and its Fisher-weighted merge
on given Fisher diagonals. WORK holds base.safetensors, m1..mK.safetensors, data_k.safetensors (batches of
inputs), fisher_k.safetensors and cases.json; each case's merged state dict is written to out_<case>.safetensors.
This file must import nothing but torch at module level: the modelfusion side imports `Net` from it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

IN, HIDDEN, WIDE, CLASSES = 12, 16, 24, 5


class Net(nn.Module):
    """Linear [16, 12] (rank 12), LayerNorm, Linear [24, 16] (rank 16), Linear [5, 24] (rank 5): ranks divisible by
    three tasks and not, a head whose rank is below the directions Iso-CTS would give the tasks."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(IN, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN)
        self.mid = nn.Linear(HIDDEN, WIDE)
        self.out = nn.Linear(WIDE, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.mid(self.norm(torch.tanh(self.inp(x))))))


class _Trainer:
    """What FusionBench's (MergeLM's) regmean_merging reads from a transformers Trainer."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]) -> None:
        self.batches = batches
        self._train_batch_size = int(batches[0]["x"].shape[0])

    def get_train_dataloader(self) -> list[dict[str, torch.Tensor]]:
        return self.batches

    def _prepare_inputs(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return inputs


def _load(path: Path) -> nn.Module:
    from safetensors.torch import load_file

    net = Net()
    net.load_state_dict(load_file(str(path)))
    return net


def run_case(work: Path, case: dict) -> dict[str, torch.Tensor]:
    from fusion_bench.modelpool import BaseModelPool
    from safetensors.torch import load_file

    k = case["models"]
    models = {"_pretrained_": _load(work / "base.safetensors")}
    models.update({f"m{i}": _load(work / f"m{i}.safetensors") for i in range(1, k + 1)})
    method = case["method"]
    if method in ("tsv", "iso_c", "iso_cts"):
        from fusion_bench.method import ISO_C_Merge, ISO_CTS_Merge, TaskSingularVectorMerging

        algorithm = {
            "tsv": lambda: TaskSingularVectorMerging(alpha=case["alpha"]),
            "iso_c": lambda: ISO_C_Merge(scaling_factor=case["alpha"]),
            "iso_cts": lambda: ISO_CTS_Merge(
                scaling_factor=case["alpha"], common_space_fraction=case["common_space_fraction"]
            ),
        }[method]()
        return algorithm.run(BaseModelPool(models)).state_dict()
    tasks = [models[f"m{i}"] for i in range(1, k + 1)]
    if method == "regmean":
        from fusion_bench.method.regmean.regmean import regmean_merging

        trainers = []
        for i in range(1, k + 1):
            data = load_file(str(work / f"data_{i}.safetensors"))
            trainers.append(_Trainer([{"x": data[name]} for name in sorted(data)]))
        examples = [sum(int(b["x"].shape[0]) for b in t.batches) for t in trainers]
        return regmean_merging(tasks, trainers, [], examples, reduce_non_diagonal_ratio=case["alpha"])
    if method == "fisher":
        from fusion_bench.method.fisher_merging.fisher_merging import merging_with_fisher_weights

        params = {
            name: [dict(t.named_parameters())[name].detach() for t in tasks] for name, _ in Net().named_parameters()
        }
        fishers = [load_file(str(work / f"fisher_{i}.safetensors")) for i in range(1, k + 1)]
        return merging_with_fisher_weights(
            params,
            fishers,
            torch.tensor(case["coefficients"]),
            normalize_fisher_weight=case["normalize"],
            minimal_fisher_weight=case["floor"],
        )
    raise ValueError(f"unknown method {method}")


def main(work: Path) -> None:
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    cases = json.loads((work / "cases.json").read_text())
    for name, case in cases.items():
        merged = run_case(work, case)
        save_file({n: t.detach().contiguous() for n, t in merged.items()}, str(work / f"out_{name}.safetensors"))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
