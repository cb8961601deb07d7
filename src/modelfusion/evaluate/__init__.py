"""Evaluation layer: score a (merged) model on a task, on held-out splits.

What is here is what a user calls:
- a task = data + metric: `Example`s -> `make_task` -> `TextTask` (seeded, stratified train / validation / test
  splits; `SplitSizes`, `stratified_split`); metrics `accuracy`, `normalized_accuracy`, `gain_kept`;
- how to run a model on it: a Hugging Face encoder folder (`load_encoder`, mean pooling) with one linear
  `ClassificationHead` per task (`save_head` / `load_head`); `predict`, `score`, `evaluate_folder` (every task
  scored with its own head, the encoder loaded once); or a whole Hugging Face sequence classifier
  (`load_classifier`, `classify`, `score_classifier`; its id2label names matched to the task's labels).

Split discipline: choose hyper-parameters on "validation", score "test" once. Needs the `evaluate` extra
(transformers, tokenizers). The benchmark's corpora and its fine-tuning recipe are not here: see bench/quality.
"""

from modelfusion.evaluate.classifier import Classifier, classify, load_classifier, score_classifier
from modelfusion.evaluate.encoder import Encoder, embed, embed_texts, load_encoder, mean_pool, tokenize
from modelfusion.evaluate.examples import Example, Splits
from modelfusion.evaluate.head import ClassificationHead, load_head, save_head
from modelfusion.evaluate.metrics import accuracy, gain_kept, normalized_accuracy
from modelfusion.evaluate.run_model import evaluate_folder, evaluate_folder_splits, predict, score
from modelfusion.evaluate.splits import SplitSizes, stratified_split
from modelfusion.evaluate.tasks import TextTask, make_task

__all__ = [
    "ClassificationHead",
    "Classifier",
    "Encoder",
    "Example",
    "SplitSizes",
    "Splits",
    "TextTask",
    "accuracy",
    "classify",
    "embed",
    "embed_texts",
    "evaluate_folder",
    "evaluate_folder_splits",
    "gain_kept",
    "load_classifier",
    "load_encoder",
    "load_head",
    "make_task",
    "mean_pool",
    "normalized_accuracy",
    "predict",
    "save_head",
    "score",
    "score_classifier",
    "stratified_split",
    "tokenize",
]
