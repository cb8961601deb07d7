"""Hugging Face Hub model ids (`org/name`, `org/name@revision`) resolved to a local snapshot folder.

Resolution goes through `huggingface_hub`: its cache first, a download when online, the cache only when
HF_HUB_OFFLINE=1 (read when called, not at import). Only the files a merge needs are fetched: weights
(safetensors, else PyTorch pickles), configs, tokenizer files and chat templates. The environment's
HF_HUB_CACHE / HF_HOME choose the cache, as for transformers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from modelfusion.errors import CheckpointError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
_SNAPSHOT = re.compile(r"^models--(?P<org>[^/]+?)--(?P<name>[^/]+)$")
COMMON_FILES = ["*.json", "*.model", "*.txt", "*.jinja", "*.tiktoken", "chat_templates/*"]
SAFETENSORS = ["*.safetensors"]
PICKLES = ["*.bin", "*.pt", "*.pth"]


@dataclass(frozen=True)
class HubRef:
    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def parse_hub_ref(ref: str) -> HubRef | None:
    """`org/name` or `org/name@revision` as a HubRef; None if `ref` cannot be a Hub model id."""
    repo, _, revision = ref.partition("@")
    if not _REPO_ID.match(repo) or ".." in repo or repo.endswith((".", "-")):
        return None
    if "@" in ref and not revision:
        return None
    return HubRef(repo, revision or None)


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a true value, read now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in ("1", "ON", "YES", "TRUE")


def hub_cache() -> Path:
    """HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (read now)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    return Path(home).expanduser() / "hub"


def resolve_hub_model(ref: HubRef) -> Path:
    """The local snapshot folder of `ref` (downloaded unless cached or offline); one-line error if unavailable."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    off = offline()

    def fetch(patterns: list[str]) -> Path:
        return Path(
            snapshot_download(
                ref.repo_id,
                revision=ref.revision,
                cache_dir=hub_cache(),
                allow_patterns=patterns,
                local_files_only=off,
            )
        )

    where = f"model '{ref}'"
    try:
        folder = fetch(COMMON_FILES + SAFETENSORS)
        if not off and not any(folder.glob("*.safetensors")):
            folder = fetch(COMMON_FILES + PICKLES)
    except GatedRepoError:
        raise CheckpointError("the Hub repository is gated: accept its terms, then `hf auth login`", where) from None
    except RepositoryNotFoundError:
        raise CheckpointError(
            "no such model on the Hugging Face Hub (or it is private: `hf auth login`), and no local folder "
            "of that name",
            where,
        ) from None
    except RevisionNotFoundError:
        raise CheckpointError(f"the Hub repository has no revision '{ref.revision}'", where) from None
    except LocalEntryNotFoundError:
        how = "HF_HUB_OFFLINE is set" if off else "the Hub cannot be reached"
        raise CheckpointError(
            f"no such local path, not in the Hugging Face cache {hub_cache()} and {how}; "
            "download it once online, or give a local path",
            where,
        ) from None
    except (HfHubHTTPError, OSError) as e:
        raise CheckpointError(f"download from the Hugging Face Hub failed: {str(e).splitlines()[0]}", where) from None
    return folder


def hub_source(path: Path) -> HubRef | None:
    """The Hub id and commit of a path inside a Hub cache snapshot (`models--org--name/snapshots/<sha>/...`)."""
    parts = Path(path).parts
    for i in range(len(parts) - 2):
        m = _SNAPSHOT.match(parts[i])
        if m and parts[i + 1] == "snapshots":
            return HubRef(f"{m['org']}/{m['name']}", parts[i + 2])
    return None
