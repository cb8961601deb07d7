"""Recipe x opened checkpoints -> MergePlan. Every problem findable without tensor data is found here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from modelfusion.checkpoint import Checkpoint, TensorInfo
from modelfusion.checkpoint.dtypes import NAME_TO_TORCH, is_float
from modelfusion.checkpoint.format_checks import align_speakers, format_problems
from modelfusion.errors import ModelFusionError
from modelfusion.methods import MergeMethod, all_methods, get_method
from modelfusion.plan.config_check import architecture_problems, config_problems
from modelfusion.plan.job import COPY, InputRef, Job, MergePlan
from modelfusion.plan.layer_config import restacked_config
from modelfusion.plan.module_build import ModulesMixin
from modelfusion.plan.naming import (
    count_layers,
    is_pre_layer,
    layer_index,
    layer_position,
    with_layer_index,
)
from modelfusion.plan.params import check_param_names, resolve_params
from modelfusion.plan.problems import Problems
from modelfusion.plan.sources import SliceSpec, Source, slices_of
from modelfusion.plan.statistics import open_statistics, statistic_refs
from modelfusion.plan.vocab import merged_models, plan_vocab, realign_job, with_vocab_size
from modelfusion.recipe.schema import Recipe


def _dtype(name: str | None, key: str, problems: Problems) -> torch.dtype | None:
    if name is None:
        return None
    if name not in NAME_TO_TORCH:
        problems.add(f"{key}: unknown dtype '{name}' (use one of: float32, float16, bfloat16, float64)")
        return None
    return NAME_TO_TORCH[name]


class _Builder(ModulesMixin):
    def __init__(
        self,
        recipe: Recipe,
        checkpoints: Mapping[str, Checkpoint],
        problems: Problems,
        statistics: Mapping[str, Checkpoint],
    ) -> None:
        self.recipe = recipe
        self.statistics = statistics
        self.ckpts = checkpoints
        self.problems = problems
        self.method: MergeMethod | None = None
        try:
            self.method = get_method(recipe.merge_method)
        except ModelFusionError as e:
            problems.add(str(e))
        self.dtype = _dtype(recipe.dtype, "dtype", problems)
        self.out_dtype = _dtype(recipe.out_dtype, "out_dtype", problems) or self.dtype
        self.compute_dtype = torch.float64 if self.dtype == torch.float64 else torch.float32
        self.slices = slices_of(recipe)
        self.init_modules(recipe)
        first = self.slices[0].sources[0].model
        self.reference = recipe.base_model or first
        ref = checkpoints[self.reference]
        self.ref_layers = count_layers(ref.infos, ref.config)
        self.out_layers = sum(s.num_layers or self.ref_layers for s in self.slices)
        self.jobs: list[Job] = []
        self.vocab = plan_vocab(recipe, checkpoints, self.reference, merged_models(recipe, self.slices), problems)

    # -- checks made once per recipe -------------------------------------------------------------------
    def check_recipe(self) -> None:
        m = self.method
        if m is None:
            return
        named = [("parameters", self.recipe.parameters)]
        for i, sl in enumerate(self.slices):
            named.append((f"{self.where(i)}.parameters", sl.parameters))
            named.append((f"modules.{self.module}.parameters", sl.module_parameters))
            named += [(f"parameters of {s.model}", s.parameters) for s in sl.sources]
        every = {p.name for method in all_methods() for p in method.params}
        check_param_names(m, named, self.problems, every)
        for i, sl in enumerate(self.slices):
            where = self.where(i)
            n = len(self._merged_sources(sl))
            if m.base_role == "separate" and sl.base_model is None:
                self.problems.add(f"method '{m.name}' needs base_model")
            elif n < m.min_models or (m.max_models is not None and n > m.max_models):
                want = (
                    f"exactly {m.min_models}"
                    if m.max_models == m.min_models
                    else f"at least {m.min_models}" + (f" and at most {m.max_models}" if m.max_models else "")
                )
                extra = " besides base_model" if m.base_role == "separate" else ""
                self.problems.add(f"{where}: method '{m.name}' takes {want} model(s){extra}, got {n}")
            lengths = {s.layer_range[1] - s.layer_range[0] for s in sl.sources if s.layer_range}
            if len(lengths) > 1:
                self.problems.add(f"{where}: sources have layer ranges of different lengths {sorted(lengths)}")
            for s in sl.sources:
                if s.layer_range is None:
                    continue
                have = count_layers(self.ckpts[s.model].infos, self.ckpts[s.model].config)
                if s.layer_range[1] > have:
                    self.problems.add(
                        f"{where}: layer_range {list(s.layer_range)} of {s.model} goes past its {have} layers"
                    )

    def _merged_sources(self, sl: SliceSpec) -> list[Source]:
        """The sources the method combines (the base apart when the method takes it separately)."""
        if self.method is not None and self.method.base_role != "none" and sl.base_model is not None:
            return [s for s in sl.sources if s.model != sl.base_model]
        return list(sl.sources)

    # -- per tensor -------------------------------------------------------------------------------------
    def _input_info(self, model: str, name: str, ref: TensorInfo) -> TensorInfo | None:
        if self.vocab is not None and ref.name in self.vocab.roles:  # rows realigned by realign_job
            return self.ckpts[model].infos.get(name) or ref
        info = self.ckpts[model].infos.get(name)
        if info is None:
            self.problems.add(f"model {model} has no tensor '{name}'")
        elif info.shape != ref.shape:
            self.problems.add(
                f"tensor '{name}': shape {list(info.shape)} in {model} but {list(ref.shape)} "
                f"in {self.reference if ref.file else 'the reference model'}"
            )
            return None
        return info

    def add_job(self, out_name: str, sl: SliceSpec, src_layer: dict[str, int | None], t: float) -> None:
        first = sl.sources[0]
        # The base (when it is a source) defines each tensor: a non-float buffer only the base stores
        # (transformers 5 does not save BERT's position_ids) is copied from it, never demanded of the others.
        ref_src = next((s for s in sl.sources if s.model == sl.base_model), first)
        ref_name = self._name_in(ref_src, out_name, src_layer)
        ref_info = self.ckpts[ref_src.model].infos.get(ref_name)
        if ref_info is None:
            self.problems.add(f"model {ref_src.model} has no tensor '{ref_name}'")
            return
        out_dtype = self.out_dtype or ref_info.dtype
        if self.method is None:  # unknown method: still report every missing or mis-shaped input tensor
            for s in sl.sources:
                self._input_info(s.model, self._name_in(s, out_name, src_layer), ref_info)
        if not is_float(ref_info.dtype) or self.method is None:
            source = sl.base_model if sl.base_model in {s.model for s in sl.sources} else first.model
            src = next(s for s in sl.sources if s.model == source)
            name = self._name_in(src, out_name, src_layer)
            if self._input_info(src.model, name, ref_info) is not None:
                out = TensorInfo(out_name, ref_info.shape, ref_info.dtype, "")
                self.jobs.append(Job(out, COPY, [InputRef(src.model, name)]))
            return
        merged = self._merged_sources(sl)
        inputs = []
        for s in merged:
            name = self._name_in(s, out_name, src_layer)
            if self._input_info(s.model, name, ref_info) is not None:
                inputs.append(InputRef(s.model, name))
        base = None
        if self.method.base_role != "none" and sl.base_model is not None:
            base_src = next((s for s in sl.sources if s.model == sl.base_model), None)
            name = self._name_in(base_src or first, out_name, src_layer)
            if self._input_info(sl.base_model, name, ref_info) is not None:
                base = InputRef(sl.base_model, name)
        top = [sl.parameters, sl.module_parameters, self.recipe.parameters]
        levels = [(s.model, [s.parameters, *top]) for s in merged]
        params = resolve_params(self.method, out_name, t, levels, top, self.problems)
        stats = statistic_refs(self.method, inputs, ref_info.shape, self.statistics, self.problems)
        out = TensorInfo(out_name, ref_info.shape, out_dtype, "")
        self.jobs.append(Job(out, self.method.name, inputs, base, params, self.compute_dtype, self.dtype, stats))

    @staticmethod
    def _name_in(src: Source, out_name: str, src_layer: dict[str, int | None]) -> str:
        layer = src_layer.get(src.model)
        return out_name if layer is None else with_layer_index(out_name, layer)

    # -- the walk over output tensors -------------------------------------------------------------------
    def build(self) -> None:
        ref = self.ckpts[self.reference]
        non_layer = [n for n in ref.infos if layer_index(n) is None and self.mine(n)]
        pre = [n for n in non_layer if is_pre_layer(n)]
        post = [n for n in non_layer if not is_pre_layer(n)]
        for name in pre:
            self.add_job(name, self.slices[0], {}, 0.0)
        out_layer = 0
        self.layer_origins = self.origins_of_module()
        for sl in self.slices:
            first = sl.sources[0]
            first_ckpt = self.ckpts[first.model]
            span = range(*first.layer_range) if first.layer_range else range(self.ref_layers)
            by_layer: dict[int, list[str]] = {}
            for n in first_ckpt.infos:
                i = layer_index(n)
                if i is not None and self.mine(n):
                    by_layer.setdefault(i, []).append(n)
            for k, src_index in enumerate(span):
                mapping = {s.model: (s.layer_range[0] + k if s.layer_range else src_index) for s in sl.sources}
                if sl.base_model and sl.base_model not in mapping:
                    mapping[sl.base_model] = src_index
                t = layer_position(k, len(span))
                for n in by_layer.get(src_index, []):
                    self.add_job(with_layer_index(n, out_layer), sl, mapping, t)
                self.layer_origins.append((first.model, src_index))
                out_layer += 1
        for name in post:
            self.add_job(name, self.slices[-1], {}, 0.0)

    def out_config(self) -> dict | None:
        config = self.ckpts[self.reference].config
        if self.modules is not None:
            return self.modules_config(config)
        if config is None or self.layer_origins == [(self.reference, i) for i in range(self.ref_layers)]:
            return config
        if all(s.layer_range is None for sl in self.slices for s in sl.sources):
            return config  # the `models:` form keeps every layer in place
        configs = {m: c.config for m, c in self.ckpts.items()}
        counts = {m: count_layers(c.infos, c.config) for m, c in self.ckpts.items()}
        return restacked_config(config, self.ref_layers, self.layer_origins, configs, counts)


def build_plan(
    recipe: Recipe,
    checkpoints: Mapping[str, Checkpoint],
    recipe_text: str = "",
    random_seed: int = 0,
    *,
    statistics: Mapping[str, Checkpoint] | None = None,
    recipe_file: Path | None = None,
    strict: bool = False,
    allow_crimes: bool = False,
) -> MergePlan:
    """Plan the merge; raise PlanError listing every problem if any.

    `statistics`: per-tensor statistics by model (opened files or in-memory state dicts); when None, the files
    the recipe names (`statistics:` per model) are opened here, relative to the working directory, then to
    `recipe_file`'s folder, and end up in `MergePlan.statistics` (the caller closes them).
    `strict`: warnings (settings with no effect, `MergePlan.warnings`) are problems. `allow_crimes`: merge models
    whose config.json names different architectures (mergekit's --allow-crimes)."""
    problems = Problems(strict)
    opened_here = statistics is None
    if statistics is None:
        statistics = open_statistics(recipe, recipe_file, problems)
    for message in align_speakers(checkpoints):  # RVC speaker embeddings truncated as RVC WebUI does
        problems.warn(message)
    builder = _Builder(recipe, checkpoints, problems, statistics)
    builder.check_and_build()
    if builder.vocab is not None:
        builder.jobs = [realign_job(job, builder.vocab) for job in builder.jobs]
    for problem in config_problems(checkpoints):
        problems.add(problem)
    for problem in format_problems(checkpoints):  # ONNX graphs, RVC sample rates, GGUF architectures
        problems.add(problem)
    if not allow_crimes:
        weights = {builder.reference, *(s.model for sl in builder.slices for s in sl.sources)}  # not tokenizer-only
        for problem in architecture_problems({m: c for m, c in checkpoints.items() if m in weights}):
            problems.add(problem)
    if problems and opened_here:
        for opened in statistics.values():
            opened.close()
    problems.raise_if_any()
    return MergePlan(
        jobs=builder.jobs,
        checkpoints=dict(checkpoints),
        method=recipe.merge_method,
        base_model=builder.reference,
        config=with_vocab_size(builder.out_config(), builder.vocab),
        tokenizer=builder.vocab,
        out_dtype=builder.out_dtype,
        recipe_text=recipe_text,
        random_seed=random_seed,
        statistics=dict(statistics),
        warnings=problems.warnings,
    )
