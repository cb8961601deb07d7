import pytest
import torch

from modelfusion.errors import UserError
from modelfusion.evaluate import load_encoder, mean_pool
from modelfusion.evaluate.encoder import embed_texts


def test_mean_pool_averages_unmasked_positions():
    hidden = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    expected = torch.stack([(hidden[0, 0] + hidden[0, 1]) / 2, hidden[1, 0]])
    assert torch.equal(mean_pool(hidden, mask), expected)


def test_embed_texts_matches_a_plain_transformers_forward_in_input_order(tiny_encoder_dir):
    import transformers

    texts = ["red cat", "the big blue dog is very slow", "sun"]
    got = embed_texts(load_encoder(tiny_encoder_dir), texts, batch_size=2)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_encoder_dir)
    model = transformers.AutoModel.from_pretrained(tiny_encoder_dir).eval()
    for i, text in enumerate(texts):
        ids = tok(text, return_tensors="pt")
        with torch.no_grad():
            expected = model(**ids).last_hidden_state[0].mean(0)  # one text: no padding, plain mean
        torch.testing.assert_close(got[i], expected, rtol=1e-4, atol=1e-5)


def test_a_folder_without_config_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"no config\.json"):
        load_encoder(tmp_path)
