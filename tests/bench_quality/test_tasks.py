import pytest
from bench.quality.tasks import TASK_SOURCES, load_task

from modelfusion.errors import UserError
from modelfusion.evaluate import SplitSizes


def test_the_benchmark_names_its_tasks_and_refuses_unknown_ones():
    assert {"wordnet", "fortunes", "chatterbot", "foldoc"} <= set(TASK_SOURCES)
    assert {"wordnet_lemmas", "wordnet_definitions", "fortune_files", "foldoc_subjects"} <= set(TASK_SOURCES)
    with pytest.raises(UserError, match=r"unknown task 'nope'.*wordnet"):
        load_task("nope", SplitSizes())
