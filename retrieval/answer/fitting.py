"""Fitting the answer model from question files, and k-fold cross-validation of it.

The ranker is a listwise (softmax) linear model: for each answerable question it maximises the
probability mass on the sentences that overlap a gold quote, so it learns to *order* a question's
candidates rather than to score sentences across questions. The answer model is an L2-regularised
logistic regression of "answerable" on the question signals. Its threshold is the probability that
keeps ``target_answered`` of the training answerable questions answered. Every number in the shipped
model comes out of this code; nothing is set by hand except the regularisation and the two quote
margins, which were compared by cross-validation (see the README).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from kiji.retrieval.answer.model import AnswerModel, Linear
from kiji.retrieval.answer.question_signals import QUESTION_SIGNALS, question_signals
from kiji.retrieval.answer.signals import SENTENCE_SIGNALS, QuestionFacts, Sentence
from kiji.retrieval.answer.tuning import L2_RANKER, QUOTE_MARGIN, SOURCE_MARGIN, TARGET_ANSWERED


@dataclass(frozen=True)
class Sample:
    """One question with its candidate sentences' signals and their gold labels."""

    id: str
    group: str  # the corpus (question file) it came from
    lang: str
    kind: str
    answerable: bool
    sentences: list[Sentence]
    matrix: np.ndarray
    labels: np.ndarray  # bool per sentence: overlaps a gold quote
    facts: QuestionFacts


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def fit_ranker(samples: Sequence[Sample], l2: float = L2_RANKER) -> Linear:
    data = [(s.matrix, s.labels) for s in samples if s.answerable and s.labels.any()]
    if not data:
        raise ValueError("no answerable question with a gold quote among the candidates")
    mean, scale = _standardise(np.vstack([m for m, _ in data]))
    data = [((m - mean) / scale, y) for m, y in data]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        total = 0.5 * l2 * float(w @ w)
        grad = l2 * w.copy()
        for x, y in data:
            s = x @ w
            e = np.exp(s - s.max())
            p = e / e.sum()
            gold = float(p[y].sum())
            total -= np.log(max(gold, 1e-300))
            grad -= x.T @ (np.where(y, p, 0.0) / max(gold, 1e-300) - p)
        return total, grad

    w = minimize(loss, np.zeros(mean.size), jac=True, method="L-BFGS-B").x
    return Linear(SENTENCE_SIGNALS, tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()))


def _logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Newton's method on the L2-regularised log-loss (bias not penalised)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    reg = l2 * np.eye(d + 1)
    reg[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (p - y) + reg @ beta
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + reg + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    return beta[:-1], float(beta[-1])


def question_rows(samples: Sequence[Sample], ranker: Linear) -> np.ndarray:
    return np.array([question_signals(s.sentences, ranker.score(s.matrix) if len(s.sentences) else
                                      np.zeros(0), s.facts) for s in samples])


def fit(samples: Sequence[Sample], *, target_answered: float = TARGET_ANSWERED, l2_ranker: float = L2_RANKER,
        l2_answer: float = 3.0, quote_margin: float = QUOTE_MARGIN,
        source_margin: float = SOURCE_MARGIN) -> AnswerModel:
    ranker = fit_ranker(samples, l2_ranker)
    rows = question_rows(samples, ranker)
    y = np.array([s.answerable for s in samples], dtype=float)
    if y.min() == y.max():
        raise ValueError("fitting needs answerable and unanswerable questions")
    mean, scale = _standardise(rows)
    w, b = _logistic((rows - mean) / scale, y, l2_answer)
    answer = Linear(QUESTION_SIGNALS, tuple(mean.tolist()), tuple(scale.tolist()), tuple(w.tolist()), b)
    probs = 1.0 / (1.0 + np.exp(-np.clip(answer.score(rows), -30, 30)))
    # The target holds in every training corpus, not just on average: similarity scales differ
    # between corpora, and a pooled quantile let the smallest one fall to 0.86 answered.
    groups_of = np.array([s.group for s in samples])
    threshold = min(float(np.quantile(probs[(y == 1) & (groups_of == g)], 1.0 - target_answered))
                    for g in sorted(set(groups_of[y == 1])))
    groups = sorted({s.group for s in samples})
    return AnswerModel(ranker=ranker, answer=answer, threshold=round(threshold, 6),
                       quote_margin=quote_margin, source_margin=source_margin,
                       fitted_on={"questions": len(samples), "answerable": int(y.sum()), "groups": groups,
                                  "target_answered": target_answered, "l2": [l2_ranker, l2_answer]})


def folds(samples: Sequence[Sample], k: int, seed: int = 0) -> list[int]:
    """A fold number per sample: shuffled, stratified by group and answerability."""
    out = [0] * len(samples)
    rng = np.random.default_rng(seed)
    strata: dict[tuple[str, bool], list[int]] = {}
    for i, s in enumerate(samples):
        strata.setdefault((s.group, s.answerable), []).append(i)
    offset = 0
    for key in sorted(strata):
        members = strata[key]
        rng.shuffle(members)
        for j, i in enumerate(members):
            out[i] = (j + offset) % k
        offset += len(members)
    return out


def cross_validated(samples: Sequence[Sample], k: int, fitter: Callable[[Sequence[Sample]], AnswerModel] = fit,
                    seed: int = 0) -> dict[str, AnswerModel]:
    """For each sample id, the model fitted without its fold."""
    fold_of = folds(samples, k, seed)
    models = [fitter([s for s, f in zip(samples, fold_of, strict=True) if f != n]) for n in range(k)]
    return {s.id: models[f] for s, f in zip(samples, fold_of, strict=True)}
