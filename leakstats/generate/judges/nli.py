"""The NLI judge: an entailment classifier (transformers, loaded on first use) scores whether
the text entails the reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from leakstats.core.errors import LeakstatsError
from leakstats.generate.judges.base import Items, Judge, item_field

__all__ = ["NLIJudge"]


@dataclass(frozen=True)
class NLIJudge(Judge):
    """P(entailment) that the generated text entails the reference, by an NLI classifier.

    Parameters
    ----------
    model : str or os.PathLike
        A transformers sequence-classification NLI model (folder or hub name) whose
        ``config.id2label`` has an "entailment" label (case-insensitive).
    threshold : float, default 0.5
    batch_size : int, default 16
    device : str, default "cpu"

    The model loads on first use and is kept (one per judge object).
    """

    threshold: float = 0.5
    model: str = ""
    batch_size: int = 16
    device: str = "cpu"
    kind = "nli_entailment"
    needs_torch = True
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not str(self.model):
            raise LeakstatsError(
                "argument 'model': the NLI judge needs a model. Fix: pass model= a folder or hub "
                "name of an NLI classifier, e.g. model='microsoft/deberta-large-mnli'."
            )
        object.__setattr__(self, "model", str(self.model))

    def _load(self):
        if "model" not in self._cache:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(self.model)
            model = AutoModelForSequenceClassification.from_pretrained(self.model).to(self.device)
            model.eval()
            labels = {str(v).lower(): int(k) for k, v in model.config.id2label.items()}
            if "entailment" not in labels:
                raise LeakstatsError(
                    f"argument 'model': {self.model!r} has no 'entailment' label (labels: "
                    f"{sorted(labels)}). Fix: use an NLI model, or set its config.id2label."
                )
            self._cache.update(model=model, tokenizer=tokenizer, index=labels["entailment"])
        return self._cache["model"], self._cache["tokenizer"], self._cache["index"]

    def score(self, texts: Sequence[str], items: Items) -> np.ndarray:
        import torch

        refs = [str(r) for r in item_field(items, "reference", self.name)]
        model, tokenizer, index = self._load()
        out: list[np.ndarray] = []
        for start in range(0, len(texts), self.batch_size):
            premise = [str(t) for t in texts[start: start + self.batch_size]]
            hypothesis = refs[start: start + self.batch_size]
            enc = tokenizer(premise, hypothesis, return_tensors="pt", padding=True,
                            truncation=True).to(self.device)
            with torch.inference_mode():
                probs = torch.softmax(model(**enc).logits.float(), dim=-1)[:, index]
            out.append(probs.cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)
