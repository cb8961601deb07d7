import torch

from modelfusion.methods import get_method
from modelfusion.methods.sce import sce


def test_energy_weights_and_unweighted_sign_election():
    base = torch.zeros(4)
    x1 = torch.tensor([1.0, -2.0, 2.0, 0.0])
    x2 = torch.tensor([-1.0, -1.0, 2.0, 3.0])
    e1, e2 = (x1**2).mean(), (x2**2).mean()
    w1, w2 = e1 / (e1 + e2), e2 / (e1 + e2)
    # unweighted sums [0, -3, 4, 3] -> signs [+, -, +, +]
    expected = torch.stack(
        [
            x1[0],  # only x1 is positive
            (w1 * x1[1] + w2 * x2[1]) / (w1 + w2),
            (w1 * x1[2] + w2 * x2[2]) / (w1 + w2),
            x2[3],  # x1 is zero there: it does not count
        ]
    )
    torch.testing.assert_close(sce([x1, x2], base=base, select_topk=1.0, int8_mask=False), expected)


def test_select_topk_keeps_highest_variance_positions():
    base = torch.zeros(4)
    x1 = torch.tensor([1.0, 1.0, 5.0, 0.0])
    x2 = torch.tensor([1.0, 3.0, -5.0, 0.5])
    # variances across models: [0, 1, 25, 0.0625]; k = int(0.5 * 3 nonzero) = 1 (mergekit) -> position 2
    out = sce([x1, x2], base=base, select_topk=0.5, int8_mask=False)
    assert out[0] == 0 and out[1] == 0 and out[3] == 0
    assert out[2] != 0
    out = sce([x1, x2], base=base, select_topk=0.7, int8_mask=False)  # k = int(2.1) = 2 -> positions 1 and 2
    assert out[0] == 0 and out[3] == 0 and out[1] != 0 and out[2] != 0


def test_single_model_and_zero_task_vectors():
    base = torch.randn(3, 3)
    x = base + torch.randn(3, 3)
    torch.testing.assert_close(sce([x], base=base, select_topk=1.0, int8_mask=False), x)
    torch.testing.assert_close(sce([base.clone(), base.clone()], base=base, select_topk=1.0, int8_mask=False), base)


def test_spec():
    m = get_method("sce")
    assert [p.name for p in m.params] == ["select_topk", "int8_mask"] and m.param("select_topk").default == 1.0
