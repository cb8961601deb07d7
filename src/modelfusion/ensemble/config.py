"""The YAML config of `modelfusion ensemble evaluate`: members, combiner, data, evaluation. Unknown keys are errors.

task: classification            # or regression
data: {path: reviews.csv, label: label, text: text}      # or features: [f1, f2] (default: every other column)
members:
  - {name: lr, type: sklearn, estimator: sklearn.linear_model.LogisticRegression, params: {max_iter: 1000},
     preprocess: [sklearn.preprocessing.StandardScaler]}
  - {name: net, type: torch_net, params: {hidden_layer_sizes: [32], epochs: 100}}
  - {name: bert, type: hf, path: models/bert-sst2, classes: [neg, pos]}
combiner: {type: stacking, cv: 5, final_estimator: {estimator: sklearn.linear_model.LogisticRegression}, n_jobs: 2}
evaluation: {folds: 5, metric: accuracy, seed: 0}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelfusion.errors import UserError
from modelfusion.recipe.yaml_source import line_of, load_document, read_yaml_file


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EstimatorSpec(Strict):
    estimator: str = Field(description="import path of a scikit-learn estimator class, e.g. sklearn.svm.SVC")
    params: dict[str, Any] = Field(default_factory=dict)


class SklearnMember(EstimatorSpec):
    name: str
    type: Literal["sklearn"]
    preprocess: list[str | EstimatorSpec] = Field(default_factory=list, description="pipeline steps before it")


class TorchNetMember(Strict):
    name: str
    type: Literal["torch_net"]
    params: dict[str, Any] = Field(default_factory=dict)


class HFMember(Strict):
    name: str
    type: Literal["hf"]
    path: str
    classes: list[Any] | None = None
    batch_size: int = 32
    max_length: int = 256


Member = Annotated[SklearnMember | TorchNetMember | HFMember, Field(discriminator="type")]


class Combiner(Strict):
    type: Literal["soft_voting", "hard_voting", "logit_averaging", "stacking", "averaging"]
    weights: list[float] | None = None
    final_estimator: EstimatorSpec | None = None
    cv: int = Field(5, ge=2)
    passthrough: bool = False
    n_jobs: int | None = Field(None, description="parallel jobs for fitting / predicting members (joblib)")


class DataSpec(Strict):
    path: str
    label: str
    text: str | None = None
    features: list[str] | None = None
    format: Literal["csv", "jsonl"] | None = None

    @model_validator(mode="after")
    def _one_input(self) -> DataSpec:
        if self.text is not None and self.features is not None:
            raise ValueError("give either `text` (one text column) or `features` (numeric columns), not both")
        return self


class Evaluation(Strict):
    folds: int = Field(5, ge=2)
    metric: str | None = None
    seed: int = 0


class EnsembleConfig(Strict):
    task: Literal["classification", "regression"] = "classification"
    data: DataSpec
    members: list[Member] = Field(min_length=1)
    combiner: Combiner
    evaluation: Evaluation = Field(default_factory=Evaluation)

    @model_validator(mode="after")
    def _consistent(self) -> EnsembleConfig:
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must be unique, got {names}")
        if self.combiner.weights is not None and len(self.combiner.weights) != len(self.members):
            raise ValueError(f"{len(self.combiner.weights)} weights for {len(self.members)} members")
        regression_ok = {"averaging", "stacking"}
        if self.task == "regression" and self.combiner.type not in regression_ok:
            raise ValueError(f"combiner {self.combiner.type!r} is for classification; use averaging or stacking")
        if self.task == "classification" and self.combiner.type == "averaging":
            raise ValueError("combiner 'averaging' is for regression; use soft_voting or logit_averaging")
        return self


def load_config(path: str | Path) -> EnsembleConfig:
    """Parse and validate the YAML at `path`; every problem is a UserError naming the file, the key and its line.

    The YAML is read by the recipe layer's hardened loader (size limit, alias bombs, nesting depth)."""
    path = Path(path)
    where = str(path)
    raw, lines = load_document(read_yaml_file(path, "config", UserError), where, "config", UserError)
    if not isinstance(raw, dict):
        raise UserError("the config must be a YAML mapping (task, data, members, combiner, evaluation)", where=where)
    try:
        return EnsembleConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "config"
        line = line_of(lines, tuple(err["loc"]))
        at = f"line {line}: " if line else ""
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise UserError(f"{at}{loc}: {err['msg']}{more}", where=where) from None
