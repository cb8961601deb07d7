"""Where a merge's inputs came from: the names the model card may show, and modelfusion_provenance.json.

The card's front matter lists Hub ids only (`base_model` entries must name Hub models, so a local path or folder
name would be rejected, as mergekit also leaves them out); its body names the other models by folder name. The
full record (absolute paths, Hub repository and commit, the size of every weight file and config.json, and its
sha256 where known; no timestamps, so a resumed merge writes the same bytes as an uninterrupted one) goes to
modelfusion_provenance.json. A file in the Hub cache is a symlink to a blob named by its sha256, which is taken
from the name for free; other files are hashed only when asked (`hash_inputs`, `--hash-inputs`): hashing reads
every input once more, which on a 250M-parameter linear merge cost about 1 s of CPU and 2 s of wall time (a third
of the merge), so it is not the default.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from modelfusion.checkpoint.hub import hub_source, parse_hub_ref

PROVENANCE_FILE = "modelfusion_provenance.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ModelSource:
    """One input model as the recipe names it (`ref`), where it was opened (`path`) and its weight files."""

    ref: str
    path: Path | None
    files: tuple[Path, ...] = ()

    @property
    def hub_id(self) -> str | None:
        """The Hub repository this model came from (its path lies in a Hub cache snapshot), else None."""
        hub = hub_source(self.path) if self.path is not None else None
        return hub.repo_id if hub else None

    @property
    def card_name(self) -> str:
        """The Hub id, else the folder (or file) name: never an absolute path."""
        if self.hub_id:
            return self.hub_id
        return self.path.name if self.path is not None else self.ref


def sha256_of(path: Path, compute: bool = True) -> str | None:
    """The file's sha256: the Hub cache blob's name when it is one, else computed (None unless `compute`)."""
    blob = Path(os.path.realpath(path))
    if blob.parent.name == "blobs" and _SHA256.match(blob.name):
        return blob.name
    if not compute:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _file_record(path: Path, root: Path | None, hash_inputs: bool) -> dict:
    name = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else path.name
    return {"name": name, "bytes": path.stat().st_size, "sha256": sha256_of(path, compute=hash_inputs)}


def _model_record(model: ModelSource, hash_inputs: bool) -> dict:
    record: dict = {"ref": model.ref, "path": str(Path(model.path).absolute()) if model.path else None}
    hub = hub_source(model.path) if model.path is not None else None
    if hub is not None:
        asked = parse_hub_ref(model.ref)
        record["hub"] = {
            "repo_id": hub.repo_id,
            "revision": asked.revision if asked and asked.repo_id == hub.repo_id else None,
            "commit": hub.revision,
        }
    root = model.path if model.path is not None and model.path.is_dir() else None
    files = list(model.files)
    if root is not None and (root / "config.json").is_file():
        files.append(root / "config.json")
    record["files"] = [_file_record(f, root, hash_inputs) for f in files]
    return record


def write_provenance(
    folder: Path, models: list[ModelSource], method: str, version: str, hash_inputs: bool = False
) -> None:
    """Write modelfusion_provenance.json into `folder` (sha256 of local files only when `hash_inputs`)."""
    data = {
        "modelfusion_version": version,
        "merge_method": method,
        "models": [_model_record(m, hash_inputs) for m in models],
    }
    (folder / PROVENANCE_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
