"""LogitEnsemble: cached generation equals a naive full-recompute loop written here; vocab mismatch refused."""

from __future__ import annotations

import pytest
import torch

from modelfusion.ensemble import LogitEnsemble
from modelfusion.errors import UserError
from tests.tiny_models import build_tiny_model


@pytest.fixture(scope="module")
def lms():
    return build_tiny_model("llama", 0), build_tiny_model("gpt2", 1)


def naive_generate(models, weights, ids, steps, combine, gen=None, temperature=1.0):
    """No cache: recompute every member on the whole sequence at every step."""
    for _ in range(steps):
        with torch.no_grad():
            logps = [torch.log_softmax(m(ids).logits[:, -1].double() / temperature, -1) for m in models]
        if combine == "proba":
            p = sum(w * lp.exp() for w, lp in zip(weights, logps))
        else:
            p = torch.softmax(sum(w * lp for w, lp in zip(weights, logps)), -1)
        nxt = p.argmax(-1) if gen is None else torch.multinomial(p, 1, generator=gen)[:, 0]
        ids = torch.cat([ids, nxt[:, None]], 1)
    return ids


@pytest.mark.parametrize("combine", ["proba", "log_proba"])
def test_greedy_generation_with_kv_cache_equals_naive_loop(lms, combine):
    ids = torch.tensor([[3, 17, 42, 9], [100, 5, 77, 21]])
    ens = LogitEnsemble(list(lms), weights=[1, 3], combine=combine)
    out = ens.generate(ids, max_new_tokens=8)
    assert torch.equal(out, naive_generate(lms, [0.25, 0.75], ids, 8, combine))


def test_sampling_equals_naive_sampling_with_same_generator(lms):
    ids = torch.tensor([[3, 17, 42, 9]])
    ens = LogitEnsemble(list(lms), weights=[0.5, 0.5])
    out = ens.generate(ids, 10, do_sample=True, temperature=2.0, generator=torch.Generator().manual_seed(7))
    ref = naive_generate(lms, [0.5, 0.5], ids, 10, "proba", gen=torch.Generator().manual_seed(7), temperature=2.0)
    assert torch.equal(out, ref)


def test_next_token_distribution_is_weighted_mixture(lms):
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        p = [torch.softmax(m(ids).logits[:, -1].double(), -1) for m in lms]
    ens = LogitEnsemble(list(lms), weights=[2, 1])
    torch.testing.assert_close(ens.next_token_logprobs(ids).exp(), (2 * p[0] + p[1]) / 3)


def test_single_model_ensemble_matches_model_greedy(lms):
    ids = torch.tensor([[4, 8, 15, 16]])
    out = LogitEnsemble([lms[0]]).generate(ids, 6)
    assert torch.equal(out, naive_generate([lms[0]], [1.0], ids, 6, "proba"))


def test_mismatched_vocabularies_are_refused(lms):
    import transformers as tf

    other = tf.LlamaForCausalLM(
        tf.LlamaConfig(
            vocab_size=100,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
        )
    )
    with pytest.raises(UserError, match="different vocabularies"):
        LogitEnsemble([lms[0], other])


def test_loads_from_local_folder(tiny_gpt2s):
    ens = LogitEnsemble([str(tiny_gpt2s[0]), tiny_gpt2s[1]])
    assert ens.vocab_size == 128 and ens.generate(torch.tensor([[1, 2]]), 3).shape == (1, 5)


def test_left_padded_batch_equals_each_prompt_alone(lms):
    ens = LogitEnsemble(list(lms), weights=[1, 1])
    alone = [ens.generate(torch.tensor([[3, 17, 42, 9, 11]]), 5), ens.generate(torch.tensor([[100, 5]]), 5)]
    batch = torch.tensor([[3, 17, 42, 9, 11], [0, 0, 0, 100, 5]])
    out = ens.generate(batch, 5, attention_mask=torch.tensor([[1, 1, 1, 1, 1], [0, 0, 0, 1, 1]]))
    assert torch.equal(out[0, 5:], alone[0][0, 5:]) and torch.equal(out[1, 5:], alone[1][0, 2:])
