"""Builders of hostile and broken inputs: each function writes one bad case and returns its path.

Models are written directly with safetensors (no transformers import, so building a case takes
milliseconds): a Llama-shaped state dict with config.json. `python -m tests.hostile.make_cases DIR` writes
every case under DIR for inspection by hand.
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

LAYER_TENSORS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.up_proj", "mlp.down_proj")


def model_state(seed: int, layers: int = 2, hidden: int = 16, vocab: int = 32) -> dict[str, torch.Tensor]:
    """A Llama-named state dict: embedding, `layers` blocks of square projections and norms, final norm, head."""
    g = torch.Generator().manual_seed(seed)
    state = {"model.embed_tokens.weight": torch.randn(vocab, hidden, generator=g)}
    for i in range(layers):
        for t in LAYER_TENSORS:
            state[f"model.layers.{i}.{t}.weight"] = torch.randn(hidden, hidden, generator=g)
        state[f"model.layers.{i}.input_layernorm.weight"] = 1 + 0.1 * torch.randn(hidden, generator=g)
    state["model.norm.weight"] = torch.ones(hidden)
    state["lm_head.weight"] = torch.randn(vocab, hidden, generator=g)
    return state


def write_config(folder: Path, layers: int, hidden: int, vocab: int) -> None:
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "vocab_size": vocab,
        "torch_dtype": "float32",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def good_model(folder: Path, seed: int = 0, layers: int = 2, hidden: int = 16, vocab: int = 32) -> Path:
    """A valid single-file safetensors model folder."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file(model_state(seed, layers, hidden, vocab), str(folder / "model.safetensors"))
    write_config(folder, layers, hidden, vocab)
    return folder


def sharded_model(folder: Path, seed: int = 0, layers: int = 2) -> Path:
    """A valid two-shard model with model.safetensors.index.json."""
    folder.mkdir(parents=True, exist_ok=True)
    state = model_state(seed, layers)
    names = list(state)
    half = len(names) // 2
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:])):
        shard = f"model-{i + 1:05d}-of-00002.safetensors"
        save_file({n: state[n] for n in part}, str(folder / shard))
        weight_map.update({n: shard for n in part})
    write_index(folder, weight_map)
    write_config(folder, layers, 16, 32)
    return folder


def write_index(folder: Path, weight_map: dict[str, str], raw: str | None = None) -> None:
    text = raw if raw is not None else json.dumps({"metadata": {}, "weight_map": weight_map}, indent=2)
    (folder / "model.safetensors.index.json").write_text(text)


def write_raw_safetensors(path: Path, header: object, data: bytes, header_len: int | None = None) -> Path:
    """Any header (even invalid) and data; `header_len` overrides the 8-byte length prefix."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(raw) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + raw + data)
    return path


def _header_of(path: Path) -> tuple[dict, bytes]:
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8 : 8 + n]), blob[8 + n :]


def _edit_header(folder: Path, edit) -> Path:
    path = folder / "model.safetensors"
    header, data = _header_of(path)
    edit(header)
    return write_raw_safetensors(path, header, data)


# -- broken safetensors -------------------------------------------------------------------------------------
def truncated_safetensors(folder: Path) -> Path:
    good_model(folder, seed=1)
    path = folder / "model.safetensors"
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) - 100])
    return path


def header_length_past_end(folder: Path) -> Path:
    good_model(folder, seed=1)
    path = folder / "model.safetensors"
    header, data = _header_of(path)
    return write_raw_safetensors(path, header, data, header_len=10**9)


def offsets_past_end(folder: Path) -> Path:
    good_model(folder, seed=1)

    def edit(h: dict) -> None:
        entry = h["lm_head.weight"]
        b, e = entry["data_offsets"]
        entry["data_offsets"] = [b + 10**6, e + 10**6]

    return _edit_header(folder, edit)


def overlapping_offsets(folder: Path) -> Path:
    good_model(folder, seed=1)

    def edit(h: dict) -> None:
        spans = sorted((v["data_offsets"][0], k) for k, v in h.items() if k != "__metadata__")
        first, second = spans[0][1], spans[1][1]
        size = h[second]["data_offsets"][1] - h[second]["data_offsets"][0]
        b = h[first]["data_offsets"][0]
        if h[first]["data_offsets"][1] - b >= size:
            h[second]["data_offsets"] = [b, b + size]

    return _edit_header(folder, edit)


def unknown_dtype(folder: Path) -> Path:
    good_model(folder, seed=1)
    return _edit_header(folder, lambda h: h["model.norm.weight"].update(dtype="F33"))


def size_mismatch(folder: Path) -> Path:
    """A shape that needs more bytes than the offsets give."""
    good_model(folder, seed=1)
    return _edit_header(folder, lambda h: h["model.norm.weight"].update(shape=[17]))


def header_not_json(folder: Path) -> Path:
    good_model(folder, seed=1)
    path = folder / "model.safetensors"
    _, data = _header_of(path)
    return write_raw_safetensors(path, b"{not json" + b" " * 7, data)


def duplicate_header_key(folder: Path) -> Path:
    good_model(folder, seed=1)
    path = folder / "model.safetensors"
    header, data = _header_of(path)
    text = json.dumps(header)
    entry = json.dumps(header["model.norm.weight"])
    text = text[:-1] + f', "model.norm.weight": {entry}' + "}"
    return write_raw_safetensors(path, text.encode(), data)


# -- broken sharded index ------------------------------------------------------------------------------------
def _index_case(folder: Path, mutate) -> Path:
    sharded_model(folder, seed=1)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    mutate(index["weight_map"], folder)
    write_index(folder, index["weight_map"])
    return folder / "model.safetensors.index.json"


def index_escapes_folder(folder: Path) -> Path:
    def mutate(wm: dict, f: Path) -> None:
        outside = f.parent / "outside.safetensors"
        shutil.copy(f / wm["lm_head.weight"], outside)
        wm["lm_head.weight"] = "../outside.safetensors"

    return _index_case(folder, mutate)


def index_absolute_path(folder: Path) -> Path:
    def mutate(wm: dict, f: Path) -> None:
        wm["lm_head.weight"] = str((f / wm["lm_head.weight"]).resolve())

    return _index_case(folder, mutate)


def index_missing_shard(folder: Path) -> Path:
    def mutate(wm: dict, f: Path) -> None:
        wm["lm_head.weight"] = "model-00009-of-00009.safetensors"

    return _index_case(folder, mutate)


def index_names_tensor_twice(folder: Path) -> Path:
    sharded_model(folder, seed=1)
    index_path = folder / "model.safetensors.index.json"
    text = index_path.read_text()
    first = json.loads(text)["weight_map"]
    name = "model.norm.weight"
    other = next(s for s in set(first.values()) if s != first[name])
    text = text.replace('"weight_map": {', f'"weight_map": {{\n    "{name}": "{other}",', 1)
    index_path.write_text(text)
    return index_path


def tensor_in_two_shards(folder: Path) -> Path:
    """The index is fine but a second shard also holds one tensor."""
    sharded_model(folder, seed=1)
    index = json.loads((folder / "model.safetensors.index.json").read_text())["weight_map"]
    shard2 = folder / "model-00002-of-00002.safetensors"
    tensors = load_file(str(shard2))
    stolen = next(n for n, s in index.items() if s.startswith("model-00001"))
    tensors[stolen] = torch.zeros(1)
    save_file(tensors, str(shard2))
    return shard2


# -- config.json that disagrees with the tensors ----------------------------------------------------------------
def _config_case(folder: Path, key: str, value: int) -> Path:
    good_model(folder, seed=1)
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config[key] = value
    path.write_text(json.dumps(config))
    return path


def config_vocab_mismatch(folder: Path) -> Path:
    return _config_case(folder, "vocab_size", 64)


def config_hidden_mismatch(folder: Path) -> Path:
    return _config_case(folder, "hidden_size", 24)


def config_layers_mismatch(folder: Path) -> Path:
    return _config_case(folder, "num_hidden_layers", 3)


def config_not_json(folder: Path) -> Path:
    good_model(folder, seed=1)
    (folder / "config.json").write_text("{'hidden_size': 16")
    return folder / "config.json"


# -- non-finite values ---------------------------------------------------------------------------------------------
def nonfinite_model(folder: Path, value: float, tensor: str = "model.layers.1.mlp.up_proj.weight") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    state = model_state(1)
    state[tensor][3, 5] = value
    save_file(state, str(folder / "model.safetensors"))
    write_config(folder, 2, 16, 32)
    return folder / "model.safetensors"


def nan_model(folder: Path) -> Path:
    return nonfinite_model(folder, float("nan"))


def inf_model(folder: Path) -> Path:
    return nonfinite_model(folder, float("-inf"), tensor="model.embed_tokens.weight")


# -- pickles that try to run code ----------------------------------------------------------------------------------
class CreatesFile:
    """Unpickling this calls open(marker, 'w'): the file appears if the loader runs code from the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def malicious_pickle(path: Path, marker: Path, fmt: str) -> Path:
    """fmt: 'zip' (torch.save), 'legacy' (torch.save, pre-1.6 format) or 'raw' (pickle.dumps)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"model.norm.weight": torch.ones(16), "evil": CreatesFile(marker)}
    if fmt == "zip":
        torch.save(payload, path)
    elif fmt == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    elif fmt == "raw":
        path.write_bytes(pickle.dumps(payload))
    else:
        raise ValueError(fmt)
    return path


def good_pickle_model(folder: Path, seed: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model_state(seed), folder / "pytorch_model.bin")
    write_config(folder, 2, 16, 32)
    return folder / "pytorch_model.bin"


def pickle_not_a_state_dict(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save([1, 2, 3], folder / "pytorch_model.bin")
    return folder / "pytorch_model.bin"


def pickle_garbage(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 this is not a zip archive" * 10)
    return folder / "pytorch_model.bin"


def pickle_truncated(folder: Path) -> Path:
    path = good_pickle_model(folder)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    return path


# -- recipes -----------------------------------------------------------------------------------------------------------
def alias_bomb_yaml(levels: int = 9) -> str:
    """'Billion laughs': each level repeats the previous one 9 times (9**9 strings once expanded)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    lines += ["merge_method: linear", f"models: *a{levels - 1}"]
    return "\n".join(lines) + "\n"


BAD_RECIPES: dict[str, str] = {
    "a list, not a mapping": "- merge_method: linear\n- models: []\n",
    "a scalar, not a mapping": "just some words\n",
    "models is a number": "merge_method: linear\nmodels: 5\n",
    "weight is a string": "merge_method: linear\nmodels:\n  - model: m0\n    parameters: {weight: heavy}\n",
    "merge_method is a list": "merge_method: [linear]\nmodels:\n  - model: m0\n",
    "layer_range of strings": (
        "merge_method: linear\nslices:\n  - sources:\n      - model: m0\n        layer_range: [a, b]\n"
    ),
    "unknown key": "merge_method: linear\nmodles:\n  - model: m0\n",
    "invalid YAML": "merge_method: linear\nmodels: [\n",
    "empty": "",
    "alias bomb": alias_bomb_yaml(),
    "recursive alias": "a: &a [*a]\nmerge_method: linear\n",
    "deeply nested": "merge_method: " + "[" * 5000 + "]" * 5000 + "\n",
    "huge": "merge_method: linear\n# " + "x" * (2 * 1024 * 1024) + "\n",
    "binary": "\x00\x01\x02merge_method: linear\n",
}


# -- registry used by the tests and by the command line -------------------------------------------------------------
BROKEN_MODELS = {
    "truncated safetensors": (truncated_safetensors, "truncated"),
    "header length past end": (header_length_past_end, "does not fit"),
    "offsets past end of file": (offsets_past_end, "past the end"),
    "overlapping offsets": (overlapping_offsets, "overlap"),
    "unknown dtype": (unknown_dtype, "unknown dtype"),
    "shape needs more bytes than stored": (size_mismatch, "needs"),
    "header not JSON": (header_not_json, "not valid JSON"),
    "header names a tensor twice": (duplicate_header_key, "twice"),
    "index points outside the folder": (index_escapes_folder, "outside the model folder"),
    "index uses an absolute path": (index_absolute_path, "outside the model folder"),
    "index points to a missing shard": (index_missing_shard, "does not exist"),
    "index names a tensor twice": (index_names_tensor_twice, "twice"),
    "tensor in two shards": (tensor_in_two_shards, "two weight files"),
    "config vocab_size disagrees": (config_vocab_mismatch, "vocab_size=64"),
    "config hidden_size disagrees": (config_hidden_mismatch, "hidden_size=24"),
    "config num_hidden_layers disagrees": (config_layers_mismatch, "num_hidden_layers=3"),
    "config.json not JSON": (config_not_json, "not valid JSON"),
    "pickle holds no state dict": (pickle_not_a_state_dict, "holds no state dict"),
    "pickle is garbage": (pickle_garbage, "cannot load"),
    "pickle truncated": (pickle_truncated, "cannot load"),
    "NaN in a tensor": (nan_model, "NaN or Inf"),
    "-Inf in a tensor": (inf_model, "NaN or Inf"),
}
"""name -> (builder(folder) -> the file at fault, a fragment the error message must contain)."""


def main(root: str) -> None:
    base = Path(root)
    for name, (build, _) in BROKEN_MODELS.items():
        folder = base / name.replace(" ", "_")
        print(f"{name}: {build(folder)}")
    for fmt in ("zip", "legacy", "raw"):
        print(f"malicious {fmt} pickle: {malicious_pickle(base / f'evil_{fmt}.pt', base / 'PWNED', fmt)}")
    for name, text in BAD_RECIPES.items():
        path = base / f"recipe_{name.replace(' ', '_')}.yaml"
        path.write_text(text, encoding="utf-8")
        print(f"recipe {name}: {path}")


if __name__ == "__main__":
    main(sys.argv[1])
