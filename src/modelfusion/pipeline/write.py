"""Write one planned stage: shards into a locked staging folder beside its output (journaled, so an interrupted
run resumes), then the companion files, then an atomic rename into place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from modelfusion.checkpoint.chat_templates import chosen_template, write_chat_template
from modelfusion.checkpoint.companions import copy_companions, write_model_card
from modelfusion.checkpoint.native_output import append_notes, write_native
from modelfusion.checkpoint.provenance import ModelSource, write_provenance
from modelfusion.checkpoint.publish import discard, lock_staging, make_staging, publish, staging_key, unlock_staging
from modelfusion.checkpoint.shard_layout import ShardLayout
from modelfusion.checkpoint.tokenizer_files import write_tokenizer
from modelfusion.engine.journal import remove_journal
from modelfusion.engine.run_options import RunOptions
from modelfusion.engine.staged_write import write_shards
from modelfusion.errors import OutputError
from modelfusion.plan import Job, MergePlan
from modelfusion.version import __version__


def write_output(
    plan: MergePlan,
    layout: ShardLayout,
    out: Path,
    *,
    threads: int,
    device: str,
    overwrite: bool,
    resume: bool,
    on_progress: Callable[[Job], None] | None,
    run_options: RunOptions,
    before_publish: Callable[[Path], object] | None = None,
    copy_tokenizer: bool = True,
    model_card: bool = True,
    hash_inputs: bool = False,
    chat_template: str | None = None,
    out_format: str = "safetensors",
) -> int:
    """Merge `plan` into the folder `out`; returns how many tensors were taken from an interrupted run's journal.

    `copy_tokenizer=False` copies no tokenizer files (a merged tokenizer is still written); `model_card=False`
    writes no README.md, recipe or provenance; `hash_inputs` adds the sha256 of every local input file to the
    provenance (one more read of the inputs); `chat_template` is the recipe's (modelfusion.checkpoint.chat_templates).
    `out_format="same"` rewrites the shards in the base's format when the base is a lone file of another format
    (modelfusion.checkpoint.native_output).
    Ctrl-C keeps the staging folder and its journal (for resume); any other error removes it."""
    staging = make_staging(out, key=staging_key(out))
    lock = lock_staging(staging)
    try:
        resumed = write_shards(plan, layout, staging, threads, device, on_progress, resume, run_options)
        index = layout.index_json()
        if index is not None:
            (staging / "model.safetensors.index.json").write_text(index, encoding="utf-8")
        base = plan.checkpoints[plan.base_model] if plan.base_model else None
        shards = [shard.filename for shard in layout.shards]
        notes = write_native(base, staging, shards) if out_format == "same" else []
        skip_tokenizer = plan.tokenizer is not None or not copy_tokenizer
        copy_companions(base.folder if base else None, staging, plan.config, plan.out_dtype, skip_tokenizer)
        if plan.tokenizer is not None:
            tok = plan.tokenizer
            write_tokenizer(plan.checkpoints[tok.source].folder, staging, tok.added, tok.ids)
        template = chosen_template(chat_template, [c.folder for c in plan.checkpoints.values()])
        if template is not None:
            write_chat_template(staging, template)
        if model_card:
            models = [
                ModelSource(ref, c.path, tuple(p for f in c.files if (p := getattr(f, "path", None)) is not None))
                for ref, c in plan.checkpoints.items()
            ]
            write_model_card(staging, models, plan.recipe_text, plan.method)
            write_provenance(staging, models, plan.method, __version__, hash_inputs)
            (staging / "modelfusion_recipe.yaml").write_text(plan.recipe_text, encoding="utf-8")
            append_notes(staging, notes)
        if before_publish is not None:
            before_publish(staging)
        remove_journal(staging)
        publish(staging, out, overwrite)
    except KeyboardInterrupt:
        raise  # staging and journal kept: `--resume` continues from there
    except OSError as e:  # disk full, file too large, I/O error
        discard(staging)
        raise OutputError(
            f"{e.strerror or e}; nothing was published and temporary files were removed", where=e.filename or str(out)
        ) from None
    except BaseException:
        discard(staging)
        raise
    finally:
        unlock_staging(lock)
    return resumed
