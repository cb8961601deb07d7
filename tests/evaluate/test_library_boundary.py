"""The library never imports the benchmark: bench/ builds on modelfusion, not the other way round."""

import ast
from pathlib import Path

import modelfusion

SRC = Path(modelfusion.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_library_module_imports_bench():
    offenders = {
        str(p.relative_to(SRC)): sorted(m for m in _imported_modules(p) if m == "bench" or m.startswith("bench."))
        for p in SRC.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_evaluate_holds_no_corpus_readers_or_training():
    files = {p.stem for p in (SRC / "evaluate").rglob("*.py")}
    assert not files & {"finetune", "store", "wordnet", "fortunes", "foldoc", "chatterbot"}
