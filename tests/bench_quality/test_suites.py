"""The ranking benchmark's additions: harder corpus views, image tasks, recipes and the paired bootstrap."""

import numpy as np
import pytest
from bench.quality.corpora import load_foldoc_subjects, load_fortune_files, load_wordnet_view
from bench.quality.suites import bootstrap, recipe_for
from bench.quality.vision import preprocess

from modelfusion.evaluate import Example

NOUNS = [
    "02084071 05 n 02 dog 0 domestic_dog 0 001 @ 02083346 n 0000 | a member of the genus Canis; "
    '"the dog barked all night"',
    "00001740 03 n 01 entity 0 000 | that which is perceived  ",
]
VERBS = ['01835496 38 v 01 travel 0 000 | change location; "He travels a lot"; "They went far"  ']


def test_wordnet_views(tmp_path):
    (tmp_path / "data.noun").write_text("\n".join(NOUNS) + "\n")
    (tmp_path / "data.verb").write_text("\n".join(VERBS) + "\n")
    assert load_wordnet_view("noun", "lemma", tmp_path) == [Example("dog", "animal")]  # Tops excluded
    assert load_wordnet_view("noun", "definition", tmp_path) == [Example("a member of the genus Canis", "animal")]
    assert load_wordnet_view("verb", "usage", tmp_path) == [
        Example("He travels a lot", "motion"),
        Example("They went far", "motion"),
    ]


def test_fortune_files_keep_large_files_only(tmp_path):
    (tmp_path / "big").write_text("a\n%\nb\n%\nc\n")
    (tmp_path / "small").write_text("x\n")
    (tmp_path / "big.dat").write_text("binary")
    assert load_fortune_files(tmp_path, min_entries=2) == [Example(t, "big") for t in "abc"]


def test_foldoc_subjects_headwords(tmp_path):
    import gzip

    text = "TCP\n\n   <networking> Transmission Control Protocol.\n\nC\n\n   <language> A language.\n\n"
    path = tmp_path / "f.dict.dz"
    with gzip.open(path, "wt") as f:
        f.write(text)
    assert load_foldoc_subjects(path, top=1, headword_only=True) in (
        [Example("TCP", "networking")],
        [Example("C", "language")],
    )
    assert len(load_foldoc_subjects(path, top=2)) == 2


def test_preprocess_shape_and_normalisation():
    import torch

    x = preprocess(torch.zeros(2, 8, 8, dtype=torch.uint8), 16)
    assert x.shape == (2, 3, 16, 16)
    assert torch.allclose(x[0, 0], torch.full((16, 16), -0.485 / 0.229))


def test_recipes_name_the_method_and_its_lambda(tmp_path):
    r = recipe_for("ties", 0.5, tmp_path / "base", [tmp_path / "a", tmp_path / "b"])
    assert r["merge_method"] == "ties" and r["parameters"] == {"lambda": 0.5, "normalize": True}
    assert r["models"][0]["parameters"]["density"] == 0.2
    assert recipe_for("simple_average", None, tmp_path, [tmp_path / "a"])["merge_method"] == "linear"


def test_bootstrap_gain_kept_and_significance():
    rng = np.random.default_rng(0)
    per_seed = {}
    for s in range(2):

        def bits(p):
            return {"t": (rng.random(400) < p).astype(int).tolist()}

        per_seed[s] = {
            "base_probe": {"test": bits(0.5)},
            "base_ft_heads": {"test": bits(0.2)},
            "finetuned": {"test": bits(0.9)},
            "good": {"test": bits(0.85)},
            "bad": {"test": bits(0.3)},
        }
    out = bootstrap(per_seed, ["t"], ["good", "bad"], reps=200)
    good = out["rows"]["good"]["gain_kept"]
    assert 0.8 < good["mean"] < 1.0 and good["ci95"][0] < good["mean"] < good["ci95"][1]
    assert out["rows"]["finetuned"]["gain_kept"]["mean"] == pytest.approx(1.0)
    assert out["gain_kept_differences"]["bad - good"]["significant"]
