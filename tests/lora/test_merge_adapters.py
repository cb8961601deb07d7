"""`merge-adapters` equals PEFT 0.21's add_weighted_adapter, and its output loads with PEFT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from modelfusion.errors import UserError
from modelfusion.lora.merge_adapters import AdapterMergeOptions, merge_adapters
from tests.lora.adapters import make_adapter
from tests.lora.peft_reference import adapter_updates, peft_weighted_merge

TOL = 1e-5
WEIGHTS = [0.7, -0.4, 1.3]


@pytest.fixture(scope="module")
def merge_inputs(lora_root) -> list[Path]:
    """Three rank-4 adapters of the tiny Llama: different scalings (one rsLoRA), overlapping targets, one with a
    LoRA on the embedding."""
    specs = [
        {"lora_alpha": 8, "target_modules": ["q_proj", "v_proj", "embed_tokens"]},
        {"lora_alpha": 5, "target_modules": ["q_proj", "o_proj", "embed_tokens"], "use_rslora": True},
        {"lora_alpha": 2, "target_modules": ["v_proj", "o_proj", "down_proj"]},
    ]
    folders = []
    for i, spec in enumerate(specs):
        folder = lora_root / f"merge-in{i}"
        if not folder.exists():
            make_adapter("llama", 0, folder, seed=10 + i, r=4, **spec)
        folders.append(folder)
    return folders


CASES = [
    ("linear", {}),
    ("cat", {}),
    ("svd", {}),
    ("svd", {"svd_rank": 3, "svd_clamp": 0.95}),
    ("ties", {"density": 0.5}),
    ("ties", {"density": 0.3, "majority_sign_method": "frequency"}),
    ("magnitude_prune", {"density": 0.4}),
    ("ties_svd", {"density": 0.5}),
    ("magnitude_prune_svd", {"density": 0.6}),
    ("dare_linear", {"density": 0.5}),
    ("dare_ties", {"density": 0.6}),
    ("dare_linear_svd", {"density": 0.5}),
    ("dare_ties_svd", {"density": 0.7, "majority_sign_method": "frequency"}),
]


def _options(kind: str, kwargs: dict, seed: int = 3) -> AdapterMergeOptions:
    return AdapterMergeOptions(
        combination=kind,
        weights=WEIGHTS,
        density=kwargs.get("density"),
        majority_sign_method=kwargs.get("majority_sign_method", "total"),
        svd_rank=kwargs.get("svd_rank"),
        svd_clamp=kwargs.get("svd_clamp"),
        seed=seed,
    )


@pytest.mark.parametrize(("kind", "kwargs"), CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
def test_equals_peft_add_weighted_adapter(lora_root, merge_inputs, kind, kwargs):
    """delta W = B A s of every merged module equals PEFT's within 1e-5. The dare types draw the same masks:
    PEFT's global generator is seeded before each module with modelfusion's per-module seed."""
    out = lora_root / f"merged-{kind}-{len(kwargs)}"
    merge_adapters(merge_inputs, out, _options(kind, kwargs), overwrite=True)
    got = adapter_updates(out)
    expected = peft_weighted_merge(merge_inputs, WEIGHTS, kind, seed=3, **kwargs)
    assert set(got) == set(expected)
    assert min(float(expected[m].abs().max()) for m in expected) > 1e-3  # every module updated
    worst = max(float((got[m] - expected[m]).abs().max()) for m in expected)
    print(f"{kind} {kwargs}: max |diff| = {worst:.3g}")
    assert worst <= TOL


def test_cat_is_the_exact_weighted_sum(lora_root, merge_inputs):
    out = lora_root / "merged-cat-exact"
    merge_adapters(merge_inputs, out, _options("cat", {}), overwrite=True)
    inputs = [adapter_updates(f) for f in merge_inputs]
    for module, delta in adapter_updates(out).items():
        expected = sum(w * u[module] for w, u in zip(WEIGHTS, inputs) if module in u)
        torch.testing.assert_close(delta, expected, rtol=0, atol=TOL)


def test_dare_draws_depend_on_the_seed_only(lora_root, merge_inputs):
    a, b, c = (lora_root / f"dare-seed-{i}" for i in range(3))
    merge_adapters(merge_inputs, a, _options("dare_ties_svd", {"density": 0.5}, seed=1), overwrite=True)
    merge_adapters(merge_inputs, b, _options("dare_ties_svd", {"density": 0.5}, seed=1), overwrite=True)
    merge_adapters(merge_inputs, c, _options("dare_ties_svd", {"density": 0.5}, seed=2), overwrite=True)
    ua, ub, uc = adapter_updates(a), adapter_updates(b), adapter_updates(c)
    assert all(torch.equal(ua[m], ub[m]) for m in ua)
    assert not all(torch.equal(ua[m], uc[m]) for m in ua)


def test_merged_adapter_loads_and_equals_base_plus_delta(lora_root, merge_inputs):
    from peft import PeftModel

    from tests.tiny_models import build_tiny_model

    out = lora_root / "merged-load"
    merge_adapters(merge_inputs, out, _options("svd", {}), overwrite=True)
    peft_model = PeftModel.from_pretrained(build_tiny_model("llama", 0), str(out)).eval()
    expected_model = build_tiny_model("llama", 0)
    state = expected_model.state_dict()
    for module, delta in adapter_updates(out).items():
        weight = state[f"{module}.weight"]
        weight += delta.T if "embed" in module else delta
    expected_model.load_state_dict(state)
    ids = torch.randint(0, 128, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(peft_model(ids).logits, expected_model(ids).logits, rtol=0, atol=1e-5)


def test_refusals(lora_root, merge_inputs, llama_adapters):
    with pytest.raises(UserError, match="needs --density"):
        merge_adapters(merge_inputs, lora_root / "x", AdapterMergeOptions(combination="ties"))
    with pytest.raises(UserError, match="2 weights for 3 adapters"):
        merge_adapters(merge_inputs, lora_root / "x", AdapterMergeOptions(weights=[1, 2]))
    with pytest.raises(UserError, match="modules_to_save"):
        merge_adapters([lora_root / "lora1", merge_inputs[0]], lora_root / "x", AdapterMergeOptions())
    with pytest.raises(UserError, match="inside input"):
        merge_adapters(merge_inputs, merge_inputs[0] / "out", AdapterMergeOptions())
    assert not (lora_root / "x").exists()


def test_cli(lora_root, merge_inputs):
    from typer.testing import CliRunner

    from modelfusion.cli.main import app

    out = lora_root / "merged-cli"
    args = ["merge-adapters", *map(str, merge_inputs), "-o", str(out), "-c", "ties_svd", "--density", "0.5"]
    result = CliRunner().invoke(app, [*args, "-w", "0.7,-0.4,1.3", "--svd-rank", "2", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "3 adapters merged by ties_svd" in result.output
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 2
    result = CliRunner().invoke(app, [*args, "-w", "1,x"])
    assert result.exit_code == 2 and "--weights" in result.output
