import pytest
import torch

from modelfusion.errors import PlanError
from modelfusion.methods import get_method

DELLA, DELLA_LINEAR = get_method("della"), get_method("della_linear")


def call(method, xs, base, generator, **kw):
    params = {
        "weight": [1.0] * len(xs),
        "density": [0.5] * len(xs),
        "epsilon": [0.3] * len(xs),
        "normalize": False,
        "rescale": True,
        "lambda": 1.0,
        "int8_mask": False,
    }
    params.update(kw)
    return method(xs, params, base=base, generator=generator)


def test_keep_probabilities_are_linear_in_row_rank():
    delta = torch.tensor([[5.0, -1.0, 3.0, -4.0, 2.0]]).repeat(20000, 1)
    # ranks by |delta|: 5->4, -1->0, 3->2, -4->3, 2->1; p = 0.2 + 0.6 * r / 4
    expected = torch.tensor([0.8, 0.2, 0.5, 0.65, 0.35])
    out = call(DELLA_LINEAR, [delta], torch.zeros_like(delta), torch.Generator().manual_seed(3), rescale=False)
    torch.testing.assert_close((out != 0).float().mean(0), expected, atol=0.015, rtol=0)


def test_kept_fraction_per_rank_and_l1_rescale():
    row = torch.arange(1.0, 12.0).repeat(4000, 1)
    out = call(DELLA_LINEAR, [row], torch.zeros_like(row), torch.Generator().manual_seed(0), rescale=False)
    freq = (out != 0).float().mean(0)
    torch.testing.assert_close(freq, torch.linspace(0.2, 0.8, 11), atol=0.03, rtol=0)
    out = call(DELLA_LINEAR, [row], torch.zeros_like(row), torch.Generator().manual_seed(1))
    kept = out != 0
    torch.testing.assert_close(out[kept], row[kept] * row.sum() / row[kept].sum())


def test_density_one_keeps_everything_and_della_elects():
    x1 = torch.tensor([[1.0, -1.0, 2.0, 0.0, 3.0, -3.0]])
    x2 = torch.tensor([[-2.0, -1.0, -1.0, 5.0, 3.0, 3.0]])
    out = call(DELLA, [x1, x2], torch.zeros(1, 6), torch.Generator(), density=[1.0, 1.0], normalize=True)
    torch.testing.assert_close(out, torch.tensor([[-2.0, -1.0, 2.0, 5.0, 3.0, 3.0]]))


def test_epsilon_range_is_checked_at_plan_time():
    from modelfusion.api import merge_state_dicts

    b = {"w": torch.zeros(3, 4)}
    with pytest.raises(PlanError, match="epsilon"):
        merge_state_dicts([{"w": torch.ones(3, 4)}], "della", base=b, weight=[1.0], density=[0.5], epsilon=0.5)


def test_spec():
    m = get_method("della")
    assert m.param("epsilon").default == 0.15 and m.param("normalize").default is True and m.random
    assert get_method("della_linear").param("normalize").default is False
