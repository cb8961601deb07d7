import torch
from bench.quality.finetune import FinetuneConfig, finetune, probe_task, train_probe
from bench.quality.store import finetuned_folder, save_finetuned

from modelfusion.evaluate import ClassificationHead, load_encoder, load_head, score
from tests.evaluate.tiny_text import keyword_task, save_tiny_encoder

FAST = FinetuneConfig(epochs=6, batch_size=8, learning_rate=2e-3, probe_steps=200)


def test_probe_fits_separable_embeddings():
    torch.manual_seed(0)
    x = torch.randn(40, 5)
    y = (x[:, 0] > 0).long().tolist()
    head = train_probe(x, y, ("neg", "pos"), FAST)
    assert (head(x).argmax(-1) == torch.tensor(y)).float().mean() == 1.0


def test_finetuning_changes_every_layer_and_learns_the_task(tiny_encoder_dir):
    task = keyword_task("colour", {"red": "warm", "blue": "cold", "green": "plant"}, n_per_class=40)
    encoder = load_encoder(tiny_encoder_dir)
    before = {k: v.clone() for k, v in encoder.model.state_dict().items()}
    torch.manual_seed(5)
    head = ClassificationHead(32, task.labels)  # a random head, not the probe: the encoder must learn
    assert score(encoder, task, head, "train") < 0.7
    head = finetune(encoder, task, FAST, head=head)
    after = encoder.model.state_dict()
    changed = [k for k in before if before[k].is_floating_point() and not torch.equal(before[k], after[k])]
    assert any("layer.0." in k for k in changed) and any("layer.1." in k for k in changed)
    assert score(encoder, task, head, "train") >= 0.9
    assert score(encoder, task, head, "test") >= 0.75


def test_finetuned_folder_is_saved_loadable_and_reused(tiny_encoder_dir, tmp_path):
    task = keyword_task("animal", {"cat": "pet", "fish": "water"}, n_per_class=8)
    cfg = FinetuneConfig(epochs=1, batch_size=8, probe_steps=20)
    folder = finetuned_folder(tiny_encoder_dir, task, tmp_path, cfg, max_length=16)
    head, name = load_head(folder / "head.safetensors")
    assert name == "animal" and head.labels == task.labels
    stamp = (folder / "head.safetensors").stat().st_mtime_ns
    assert finetuned_folder(tiny_encoder_dir, task, tmp_path, cfg, max_length=16) == folder
    assert (folder / "head.safetensors").stat().st_mtime_ns == stamp
    other = finetuned_folder(
        tiny_encoder_dir, task, tmp_path, FinetuneConfig(epochs=1, batch_size=4, probe_steps=20), 16
    )
    assert other != folder
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    reloaded = load_encoder(folder / "encoder")
    assert reloaded.model.config.hidden_size == 32


def test_save_finetuned_replaces_an_old_result_whole(tiny_encoder_dir, tmp_path):
    task = keyword_task("animal", {"cat": "pet", "fish": "water"}, n_per_class=8)
    encoder = load_encoder(tiny_encoder_dir)
    head = probe_task(encoder, task, FinetuneConfig(probe_steps=5))
    out = tmp_path / "ft"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    save_finetuned(encoder, head, "animal", out)
    assert not (out / "stale.txt").exists() and (out / "encoder" / "config.json").is_file()


def test_a_finetune_keeps_every_tensor_name_of_its_base(tmp_path):
    from safetensors.torch import load_file, save_file

    base = save_tiny_encoder(tmp_path / "base", seed=3)
    weights = load_file(base / "model.safetensors")
    weights["embeddings.position_ids"] = torch.arange(64).unsqueeze(0)  # as older transformers saved BERT
    save_file(weights, str(base / "model.safetensors"), metadata={"format": "pt"})
    task = keyword_task("animal", {"cat": "pet", "fish": "water"}, n_per_class=8)
    folder = finetuned_folder(base, task, tmp_path / "store", FinetuneConfig(epochs=1, probe_steps=5), 16)
    saved = load_file(folder / "encoder" / "model.safetensors")
    assert set(saved) == set(weights)
    assert torch.equal(saved["embeddings.position_ids"], torch.arange(64).unsqueeze(0))
