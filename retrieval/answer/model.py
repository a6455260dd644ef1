"""The learned answer model: a linear sentence ranker and a logistic answer/decline model.

Both are small and readable: one weight per named signal (``signals.py``, ``question_signals.py``),
applied to standardised values. The ranker's score orders the candidate sentences; the answer model
turns the question's signals into a probability that the articles answer it, and kiji answers when
that probability reaches ``threshold``. ``kiji fit`` writes the file; ``fitted/<model>.json`` beside
this module are the shipped ones, one per embedding model (signals differ from model to model). The file names its signals, so a model fitted on other signals is refused, not misread.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from kiji.errors import InvalidInput
from kiji.retrieval.answer.question_signals import QUESTION_SIGNALS
from kiji.retrieval.answer.signals import SENTENCE_SIGNALS
from kiji.retrieval.answer.tuning import QUOTE_MARGIN, SOURCE_MARGIN
from kiji.retrieval.embedding.models import registry
from kiji.retrieval.embedding.models.spec import ModelSpec

FORMAT = "kiji-answer-model/1"
#: One fitted model per embedding model, named by ``ModelSpec.answer_model``.
FITTED_PACKAGE = "kiji.retrieval.answer.fitted"


@dataclass(frozen=True)
class Linear:
    """``score = ((x - mean) / scale) · weights + bias``."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.names)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == n):
            raise ValueError("a linear model needs one mean, scale and weight per signal")
        object.__setattr__(self, "_m", np.array(self.mean))
        object.__setattr__(self, "_s", np.array(self.scale))
        object.__setattr__(self, "_w", np.array(self.weights))

    def score(self, x: np.ndarray) -> np.ndarray:
        return ((x - self._m) / self._s) @ self._w + self.bias  # type: ignore[attr-defined]

    def explain(self) -> list[tuple[str, float]]:
        """Signals by the size of their standardised weight."""
        return sorted(zip(self.names, self.weights, strict=True), key=lambda kv: -abs(kv[1]))


def _linear(data: dict[str, Any]) -> Linear:
    return Linear(names=tuple(str(n) for n in data["names"]), mean=tuple(map(float, data["mean"])),
                  scale=tuple(map(float, data["scale"])), weights=tuple(map(float, data["weights"])),
                  bias=float(data.get("bias", 0.0)))




@dataclass(frozen=True)
class AnswerModel:
    ranker: Linear
    answer: Linear
    #: Probability at or above which kiji answers (chosen for a target answered share).
    threshold: float
    #: Quotes after the first are shown only while their ranker score is within this of the best.
    quote_margin: float
    #: Another article's best sentence is moved up to second place when within this of the best.
    source_margin: float
    fitted_on: dict[str, Any]

    @classmethod
    def unfitted(cls) -> AnswerModel:
        """Zero weights over this kiji's signals: what ``kiji fit`` gathers its samples with, so a
        refit works even when the current model file was fitted on other signals."""
        def zero(names: tuple[str, ...]) -> Linear:
            return Linear(names, (0.0,) * len(names), (1.0,) * len(names), (0.0,) * len(names))
        return cls(ranker=zero(SENTENCE_SIGNALS), answer=zero(QUESTION_SIGNALS), threshold=0.5,
                   quote_margin=QUOTE_MARGIN, source_margin=SOURCE_MARGIN, fitted_on={})

    def answer_probability(self, question_row: np.ndarray) -> float:
        z = float(self.answer.score(question_row))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_json(self) -> str:
        body = {"format": FORMAT, **asdict(self)}
        return json.dumps(body, ensure_ascii=False, indent=1) + "\n"

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AnswerModel:
        if data.get("format") != FORMAT:
            raise InvalidInput(f"not a kiji answer model (format {data.get('format')!r}, expected {FORMAT})")
        try:
            ranker, answer = (_linear(data["ranker"]), _linear(data["answer"]))
            model = cls(ranker=ranker, answer=answer, threshold=float(data["threshold"]),
                        quote_margin=float(data["quote_margin"]), source_margin=float(data["source_margin"]),
                        fitted_on=dict(data.get("fitted_on") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"answer model is malformed: {exc}") from None
        if ranker.names != SENTENCE_SIGNALS or answer.names != QUESTION_SIGNALS:
            raise InvalidInput("answer model was fitted on other signals than this kiji computes; "
                               "refit it with `kiji fit`")
        return model

    @classmethod
    def shipped(cls, spec: ModelSpec | None = None) -> AnswerModel:
        """The model fitted for ``spec``'s embeddings (the default model's when None)."""
        name = (spec or registry.MODELS[registry.DEFAULT]).answer_model
        text = resources.files(FITTED_PACKAGE).joinpath(name).read_text("utf-8")
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: Path | None = None) -> AnswerModel:
        """The model at ``path``, or the one shipped for the default embedding model."""
        if path is None:
            return cls.shipped()
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read the answer model {path}: {exc.strerror}") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InvalidInput(f"the answer model {path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"the answer model {path} is not a JSON object")
        return cls.from_dict(data)
