"""Merge time and peak RSS per format, each output checked in its own ecosystem. Run:

    .venv/bin/python -m bench.formats.formats [WORKDIR] [--only onnx,keras,gguf]

For each format, two "fine-tunes" (a real or real-shaped model, every float weight moved by 1% of its std,
seeded) are merged with `modelfusion merge` (linear, 0.5 / 0.5) under `/usr/bin/time -v`: wall time and peak RSS
are the merge process's (interpreter start-up and imports included). Then:

- ONNX: silero-vad 16 kHz (`silero_vad_16k_op15.onnx` from the `silero-vad` package): the merged model runs in
  onnxruntime over a speech clip (pocketsphinx-testdata's `cards/001.wav` if installed, else a synthetic
  waveform) in 512-sample chunks; its speech probabilities are compared with those of a model whose initializers
  were averaged in numpy.
- Keras: MobileNetV3Small (keras.applications, weights=None, random init, torch backend) saved with
  `save_weights`; the merged `.weights.h5` is loaded with `load_weights`, weights and predictions compared with
  the numpy average.
- GGUF: a Llama-shaped file written with the gguf package (4 blocks, hidden 512, Q8_0 attention/FFN, F16
  embeddings, F32 norms; synthetic values, not a trained model); the merged file is re-read with GGUFReader and
  dequantized values compared with the re-quantized average.

Prints one JSON line per format and a final JSON list.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

SCALE = 0.01
SPEECH = Path("/usr/share/pocketsphinx/test/data/cards/001.wav")


def perturb(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if array.dtype.kind != "f" or array.size < 2:
        return array
    noise = rng.normal(size=array.shape).astype(np.float32) * SCALE * float(array.astype(np.float32).std())
    return (array.astype(np.float32) + noise).astype(array.dtype)


def timed_merge(a: Path, b: Path, work: Path) -> tuple[Path, dict]:
    """`modelfusion merge` under /usr/bin/time -v: (OUT, {wall_seconds, peak_rss_mib, command})."""
    recipe = work / "recipe.yaml"
    recipe.write_text(
        f"merge_method: linear\nbase_model: {a}\nmodels:\n"
        f"  - model: {a}\n    parameters: {{weight: 0.5}}\n  - model: {b}\n    parameters: {{weight: 0.5}}\n"
    )
    out = work / "merged"
    cmd = [sys.executable, "-m", "modelfusion.cli.main", "merge", str(recipe), str(out), "-q", "--overwrite", "-j", "2"]
    start = time.perf_counter()
    run = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(run.stdout + run.stderr)
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    return out, {"wall_seconds": round(wall, 2), "peak_rss_mib": round(rss_kib / 1024, 1)}


# -- ONNX: silero-vad ----------------------------------------------------------------------------------------------
def speech_clip() -> tuple[np.ndarray, str]:
    if SPEECH.is_file():
        with wave.open(str(SPEECH)) as w:
            assert w.getframerate() == 16000 and w.getsampwidth() == 2
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        return pcm.astype(np.float32) / 32768.0, f"pocketsphinx-testdata {SPEECH.name}"
    t = np.arange(16000 * 2) / 16000
    wave_ = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    return wave_.astype(np.float32), "synthetic 2 s waveform"


def vad_probs(path: Path, audio: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), dtype=np.float32)
    sr = np.array(16000, dtype=np.int64)
    probs, context = [], np.zeros(64, dtype=np.float32)  # silero-vad v5 reads 64 samples of context per chunk
    for i in range(0, len(audio) - 511, 512):
        chunk = np.concatenate([context, audio[i : i + 512]])
        out, state = sess.run(None, {"input": chunk[None], "state": state, "sr": sr})
        probs.append(float(out.reshape(-1)[0]))
        context = chunk[-64:]
    return np.array(probs)


def bench_onnx(work: Path) -> dict:
    import onnx
    import silero_vad
    from onnx import numpy_helper

    src = Path(silero_vad.__file__).parent / "data" / "silero_vad_16k_op15.onnx"
    paths, inits = [], []
    for seed in (1, 2):
        model = onnx.load(str(src))
        rng = np.random.default_rng(seed)
        arrays = {}
        for init in model.graph.initializer:
            arrays[init.name] = perturb(numpy_helper.to_array(init), rng)
            init.CopyFrom(numpy_helper.from_array(arrays[init.name], init.name))
        path = work / f"vad_{seed}.onnx"
        onnx.save(model, str(path))
        paths.append(path)
        inits.append(arrays)
    out, timing = timed_merge(paths[0], paths[1], work)
    merged = out / "model.onnx"
    onnx.checker.check_model(str(merged), full_check=True)
    expected = onnx.load(str(paths[0]))
    for init in expected.graph.initializer:
        avg = (0.5 * inits[0][init.name].astype(np.float32) + 0.5 * inits[1][init.name].astype(np.float32)).astype(
            inits[0][init.name].dtype
        )
        init.CopyFrom(numpy_helper.from_array(avg, init.name))
    expected_path = work / "vad_expected.onnx"
    onnx.save(expected, str(expected_path))
    audio, clip = speech_clip()
    got, want, orig = vad_probs(merged, audio), vad_probs(expected_path, audio), vad_probs(src, audio)
    return {
        "format": "ONNX (silero-vad 16k op15, 15 initializers)",
        "input_bytes": paths[0].stat().st_size,
        **timing,
        "check": f"onnx.checker full_check; onnxruntime on {clip}, {len(got)} chunks of 512 samples",
        "max_abs_prob_diff_vs_numpy_average": float(np.abs(got - want).max()),
        "max_abs_prob_diff_vs_original_model": float(np.abs(got - orig).max()),
        "speech_chunks_over_0.5": {"merged": int((got > 0.5).sum()), "original": int((orig > 0.5).sum())},
    }


# -- Keras: MobileNetV3Small --------------------------------------------------------------------------------------
def bench_keras(work: Path) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    def build():
        return keras.applications.MobileNetV3Small(weights=None, input_shape=(224, 224, 3), classes=1000)

    keras.utils.set_random_seed(0)
    base = build()
    paths, weights = [], []
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        w = [perturb(v, rng) for v in base.get_weights()]
        base.set_weights(w)
        path = work / f"mnv3s_{seed}.weights.h5"
        base.save_weights(path)
        paths.append(path)
        weights.append(w)
    out, timing = timed_merge(paths[0], paths[1], work)
    fresh = build()
    fresh.load_weights(out / "model.weights.h5")
    avg = [(0.5 * x.astype(np.float32) + 0.5 * y.astype(np.float32)) for x, y in zip(*weights, strict=True)]
    weight_diff = max(float(np.abs(g - w).max()) for g, w in zip(fresh.get_weights(), avg, strict=True))
    ref = build()
    ref.set_weights(avg)
    x = np.random.default_rng(0).uniform(0, 255, size=(2, 224, 224, 3)).astype(np.float32)
    pred_diff = float(np.abs(fresh.predict(x, verbose=0) - ref.predict(x, verbose=0)).max())
    return {
        "format": f"Keras .weights.h5 (MobileNetV3Small, {base.count_params() / 1e6:.1f}M parameters, random init)",
        "input_bytes": paths[0].stat().st_size,
        **timing,
        "check": "keras.Model.load_weights + predict (torch backend)",
        "max_abs_weight_diff_vs_numpy_average": weight_diff,
        "max_abs_prediction_diff": pred_diff,
    }


# -- GGUF: Llama-shaped -------------------------------------------------------------------------------------------
GGUF_HIDDEN, GGUF_FFN, GGUF_BLOCKS, GGUF_VOCAB = 512, 1376, 4, 4096


def gguf_arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    base = {"token_embd.weight": rng.normal(size=(GGUF_VOCAB, GGUF_HIDDEN))}
    for i in range(GGUF_BLOCKS):
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            base[f"blk.{i}.{name}.weight"] = rng.normal(size=(GGUF_HIDDEN, GGUF_HIDDEN)) * 0.02
        base[f"blk.{i}.ffn_gate.weight"] = rng.normal(size=(GGUF_FFN, GGUF_HIDDEN)) * 0.02
        base[f"blk.{i}.ffn_up.weight"] = rng.normal(size=(GGUF_FFN, GGUF_HIDDEN)) * 0.02
        base[f"blk.{i}.ffn_down.weight"] = rng.normal(size=(GGUF_HIDDEN, GGUF_FFN)) * 0.02
        base[f"blk.{i}.attn_norm.weight"] = 1 + 0.1 * rng.normal(size=(GGUF_HIDDEN,))
    base["output_norm.weight"] = np.ones(GGUF_HIDDEN)
    rng = np.random.default_rng(seed)
    return {k: perturb(v.astype(np.float32), rng) for k, v in base.items()}


def gguf_type(name: str):
    import gguf

    q = gguf.GGMLQuantizationType
    return q.F16 if name == "token_embd.weight" else q.F32 if name.endswith("norm.weight") else q.Q8_0


def write_gguf(path: Path, arrays: dict[str, np.ndarray]) -> None:
    import gguf
    from gguf.quants import quantize

    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name("llama-shaped")
    w.add_block_count(GGUF_BLOCKS)
    w.add_embedding_length(GGUF_HIDDEN)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"t{i}" for i in range(GGUF_VOCAB)])
    for name, array in arrays.items():
        qtype = gguf_type(name)
        if qtype == gguf.GGMLQuantizationType.Q8_0:
            w.add_tensor(name, quantize(array, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, array.astype(np.float16 if qtype == gguf.GGMLQuantizationType.F16 else np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def bench_gguf(work: Path) -> dict:
    import gguf
    from gguf.quants import dequantize, quantize

    arrays = [gguf_arrays(1), gguf_arrays(2)]
    paths = [work / "llama_1.gguf", work / "llama_2.gguf"]
    for path, a in zip(paths, arrays, strict=True):
        write_gguf(path, a)
    stored = [
        {t.name: dequantize(t.data, t.tensor_type).reshape(a[t.name].shape) for t in gguf.GGUFReader(p).tensors}
        for p, a in zip(paths, arrays, strict=True)
    ]
    out, timing = timed_merge(paths[0], paths[1], work)
    reader = gguf.GGUFReader(out / "model.gguf")
    worst = 0.0
    for t in reader.tensors:
        want = 0.5 * stored[0][t.name] + 0.5 * stored[1][t.name]
        want = dequantize(quantize(want, t.tensor_type), t.tensor_type).reshape(want.shape)
        got = dequantize(t.data, t.tensor_type).reshape(want.shape)
        assert t.tensor_type == gguf_type(t.name), t.name
        worst = max(worst, float(np.abs(got - want).max()))
    n = sum(a.size for a in arrays[0].values())
    return {
        "format": f"GGUF (Llama-shaped, {n / 1e6:.1f}M parameters, Q8_0/F16/F32, synthetic values)",
        "input_bytes": paths[0].stat().st_size,
        **timing,
        "check": "gguf.GGUFReader: types and metadata kept, values vs the re-quantized average",
        "max_abs_diff_vs_requantized_average": worst,
    }


BENCHES = {"onnx": bench_onnx, "keras": bench_keras, "gguf": bench_gguf}


def main(work: Path, only: list[str], benches: dict = BENCHES) -> list[dict]:
    """Run the named `benches`, each in its own folder under `work`; print and return their results."""
    results = []
    for name in only:
        folder = work / name
        folder.mkdir(parents=True, exist_ok=True)
        result = benches[name](folder)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def cli(benches: dict, prefix: str) -> None:
    """`python -m ... [WORK] [--only=a,b]`: run `benches` (all by default) and print the results as one JSON list."""
    args = [a for a in sys.argv[1:] if not a.startswith("--only")]
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--only=")), list(benches))
    root = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix=prefix))
    print(json.dumps(main(root, only, benches)))


if __name__ == "__main__":
    cli(BENCHES, "mf-formats-")
