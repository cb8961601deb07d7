"""Evaluation layer: text-classification tasks on real offline corpora, seeded splits, metrics, fine-tuning of an
encoder + linear head, and scoring a (merged) model folder on tasks with each task's own head."""

from modelfusion.evaluate.encoder import Encoder, load_encoder, mean_pool
from modelfusion.evaluate.examples import Example, Splits
from modelfusion.evaluate.finetune import FinetuneConfig, finetune, probe_task
from modelfusion.evaluate.head import ClassificationHead, load_head, save_head
from modelfusion.evaluate.metrics import accuracy, normalized_accuracy
from modelfusion.evaluate.run_model import evaluate_folder, predict, score
from modelfusion.evaluate.splits import SplitSizes, stratified_split
from modelfusion.evaluate.store import finetuned_folder, probe_head_file
from modelfusion.evaluate.tasks import BUILTIN_SOURCES, TextTask, load_task, make_task

__all__ = [
    "BUILTIN_SOURCES",
    "ClassificationHead",
    "Encoder",
    "Example",
    "FinetuneConfig",
    "SplitSizes",
    "Splits",
    "TextTask",
    "accuracy",
    "evaluate_folder",
    "finetune",
    "finetuned_folder",
    "load_encoder",
    "load_head",
    "load_task",
    "make_task",
    "mean_pool",
    "normalized_accuracy",
    "predict",
    "probe_head_file",
    "probe_task",
    "save_head",
    "score",
    "stratified_split",
]
