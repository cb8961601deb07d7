import torch

from modelfusion.methods import get_method

task_arithmetic = get_method("task_arithmetic").function

BASE = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
A = BASE + torch.tensor([[0.5, -1.0, 0.0], [2.0, 0.0, -0.5]])
B = BASE + torch.tensor([[-1.0, 1.0, 3.0], [0.0, 0.5, 0.5]])


def run(**kw):
    args = dict(base=BASE, weight=[0.5, 2.0], density=[1.0, 1.0], normalize=False, rescale=False, lambda_=1.0)
    args.update(kw)
    return task_arithmetic([A, B], int8_mask=False, **args)


def test_weighted_sum_of_task_vectors():
    expected = BASE + 0.5 * (A - BASE) + 2.0 * (B - BASE)
    torch.testing.assert_close(run(), expected)


def test_normalize_and_lambda():
    expected = BASE + 0.3 * (0.5 * (A - BASE) + 2.0 * (B - BASE)) / 2.5
    torch.testing.assert_close(run(normalize=True, lambda_=0.3), expected)


def test_density_is_ignored_like_mergekit():
    torch.testing.assert_close(run(density=[0.1, 0.1]), run())


def test_weights_summing_to_zero_are_not_divided():
    expected = BASE + (A - BASE) - (B - BASE)
    torch.testing.assert_close(run(weight=[1.0, -1.0], normalize=True), expected)


def test_identical_models_give_the_base():
    out = task_arithmetic(
        [BASE.clone()],
        base=BASE,
        weight=[1.0],
        density=[1.0],
        normalize=True,
        rescale=False,
        lambda_=1.0,
        int8_mask=False,
    )
    torch.testing.assert_close(out, BASE)


def test_spec_matches_mergekit_names_and_defaults():
    m = get_method("task_arithmetic")
    assert [p.name for p in m.params] == ["weight", "density", "normalize", "rescale", "lambda", "int8_mask"]
    assert m.param("weight").required and m.param("weight").per_model
    assert m.param("normalize").default is False and m.param("lambda").default == 1.0
    assert m.base_role == "separate"
