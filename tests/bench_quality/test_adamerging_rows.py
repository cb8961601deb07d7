"""bench.quality.adamerging_rows.MeanPooled: checkpoint names, mean pooling, and parameters swapped functionally."""

import pytest
import torch
from bench.quality.adamerging_rows import MeanPooled
from torch.func import functional_call

from modelfusion.evaluate import ClassificationHead, mean_pool

transformers = pytest.importorskip("transformers")


def tiny_bert(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    return transformers.BertModel(config).eval()


def inputs() -> dict[str, torch.Tensor]:
    ids = torch.tensor([[2, 5, 7, 9, 3], [2, 11, 3, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


def test_names_are_the_state_dict_names():
    model = tiny_bert(0)
    wrapped = MeanPooled(model)
    assert [n for n, _ in wrapped.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert list(wrapped.state_dict()) == list(model.state_dict())


def test_forward_is_mean_pool_of_last_hidden_state():
    model = tiny_bert(0)
    x = inputs()
    with torch.no_grad():
        want = mean_pool(model(**x).last_hidden_state, x["attention_mask"])
        got = MeanPooled(model)(**x)
        no_types = MeanPooled(model)(x["input_ids"], x["attention_mask"])
    assert torch.equal(got, want)
    assert torch.equal(no_types, want)


def test_functional_call_runs_other_parameters():
    a, b = tiny_bert(0), tiny_bert(1)
    x = inputs()
    with torch.no_grad():
        got = functional_call(MeanPooled(a), dict(b.named_parameters()), (), x)
        want = MeanPooled(b)(**x)
    assert torch.allclose(got, want, atol=1e-6)


def test_adamerge_recipe_names_checkpoint_tensors():
    from modelfusion.calibrate.adamerging import adamerge

    base, ft = tiny_bert(0), [tiny_bert(1), tiny_bert(2)]
    torch.manual_seed(3)
    heads = [ClassificationHead(32, ("a", "b")).eval(), ClassificationHead(32, ("a", "b", "c")).eval()]
    result = adamerge(
        MeanPooled(base),
        [MeanPooled(m) for m in ft],
        [[inputs()], [inputs()]],
        names=["/ft/a", "/ft/b"],
        base_name="/base",
        steps=2,
        heads=heads,
    )
    assert result.recipe["base_model"] == "/base"
    assert [m["model"] for m in result.recipe["models"]] == ["/ft/a", "/ft/b"]
    names = set(base.state_dict())
    for coefficients in result.coefficients:
        assert set(coefficients) == names
    for entry in result.recipe["models"]:
        weight = entry["parameters"]["weight"]
        filters = [w["filter"] for w in weight if "filter" in w] if isinstance(weight, list) else []
        assert set(filters) <= names
    assert len(result.losses) == 2 and result.entropy_after[0] != result.entropy_before[0]
