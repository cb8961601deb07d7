from modelfusion.engine.admission import AdmissionQueue


def test_largest_that_fits_first_and_equal_needs_in_order():
    q = AdmissionQueue([("a", 10), ("b", 300), ("c", 50), ("d", 50), ("e", 200)])
    assert q.take(1000, alone=False) == ("b", 300)
    assert q.take(100, alone=False) == ("c", 50)  # 'e' does not fit: a smaller job skips ahead
    assert q.take(100, alone=False) == ("d", 50)
    assert q.take(5, alone=False) is None  # nothing fits and others are running: wait
    assert q.take(5, alone=True) == ("e", 200)  # nothing running: the largest runs even over the budget
    assert q.take(10, alone=False) == ("a", 10)
    assert len(q) == 0 and q.take(10**9, alone=True) is None


def test_dry_run_peak_is_the_runners_bound():
    import torch

    from modelfusion.checkpoint import open_checkpoint
    from modelfusion.engine.execute import job_memory
    from modelfusion.engine.runner import tensors_in_flight
    from modelfusion.plan import build_plan
    from modelfusion.recipe import Recipe

    g = torch.Generator().manual_seed(0)
    models = [{f"w{i}": torch.randn(64, 32, generator=g) for i in range(5)} for _ in range(2)]
    ckpts = {f"m{i}": open_checkpoint(m, label=f"m{i}") for i, m in enumerate(models)}
    recipe = Recipe.model_validate({"merge_method": "linear", "models": [{"model": "m0"}, {"model": "m1"}]})
    plan = build_plan(recipe, ckpts)
    largest = max(job_memory(plan, j) for j in plan.jobs)
    assert tensors_in_flight(plan, threads=2, budget=10**9) == 3 * largest  # the window: threads + 1 jobs
    assert tensors_in_flight(plan, threads=2, budget=largest) == largest  # the budget holds one at a time
    assert tensors_in_flight(plan, threads=2, budget=1) == largest  # a job over the budget runs alone
