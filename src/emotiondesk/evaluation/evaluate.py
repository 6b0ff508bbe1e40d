"""Evaluate a model pack or a single model on a labelled file.

Example:
    >>> report = evaluate_file("dev.csv", task="polarity", binary=True)  # doctest: +SKIP
    >>> report["accuracy"]                                               # doctest: +SKIP
    0.94
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.data import LabelledData, load_dataset
from emotiondesk.errors import InvalidInputError, ModelError
from emotiondesk.evaluation.metrics import classification_report
from emotiondesk.labels import scheme

BATCH = 1000

Progress = Callable[[int], None]


def _batches(n: int, size: int = BATCH) -> list[tuple[int, int]]:
    return [(start, min(n, start + size)) for start in range(0, n, size)]


def predict_scheme_proba(
    model: str | Path,
    texts: Sequence[str],
    *,
    task: str,
    progress: Progress | None = None,
) -> tuple[np.ndarray, str]:
    """Probabilities over ``task``'s canonical labels, and a name for the model.

    ``model`` is ``"default"`` (the shipped pack), a pack directory (with
    ``pack.json``; texts are routed by language), a model registry (its
    champion) or a single model directory (with ``config.json``).
    """
    from emotiondesk.analyzer import _to_scheme, load_analyzer
    from emotiondesk.models.base import CONFIG_NAME, load_model
    from emotiondesk.pack import PACK_FILE, is_registry

    labels = scheme(task)
    path = None if str(model) == "default" else Path(model)
    out = np.zeros((len(texts), len(labels)))
    if path is None or (path / PACK_FILE).is_file() or is_registry(path):
        analyzer = load_analyzer(path)
        for start, stop in _batches(len(texts)):
            # the whole reading of `analyze` (chunks of long texts, pinyin, signals)
            reading = analyzer.read_texts(list(texts[start:stop]))
            out[start:stop] = reading.polarity if task == "polarity" else reading.emotion
            if progress:
                progress(stop - start)
        return out, analyzer.version
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        clf = load_model(path)
        if hasattr(clf, "for_task") and task in getattr(clf, "tasks_", {}):
            clf = clf.for_task(task)  # a multi-task model: the head of this task
        if not set(clf.labels_) <= set(labels):
            raise ModelError(
                f"model {path} predicts {clf.labels_}, not {task} labels {list(labels)}"
            )
        for start, stop in _batches(len(texts)):
            out[start:stop] = _to_scheme(clf.predict_proba(texts[start:stop]), clf.labels_, labels)
            if progress:
                progress(stop - start)
        return out, str(path)
    raise ModelError(
        f"--model {str(model)!r} is neither 'default', a pack directory (with pack.json) "
        "nor a model directory (with config.json)"
    )


def evaluate_data(
    data: LabelledData,
    *,
    task: str,
    model: str | Path = "default",
    binary: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate ``model`` on already loaded data; returns the ``evaluate --json`` object."""
    if binary and task != "polarity":
        raise InvalidInputError("--binary only applies to --task polarity")
    proba, name = predict_scheme_proba(model, data.texts, task=task, progress=progress)
    return report_from_proba(data, proba, task=task, binary=binary, model_name=name)


def report_from_proba(
    data: LabelledData,
    proba: np.ndarray,
    *,
    task: str,
    binary: bool = False,
    model_name: str = "",
) -> dict[str, Any]:
    """The ``evaluate --json`` object of probabilities over ``task``'s canonical labels.

    Used by :func:`evaluate_data`, and directly where probabilities are already
    at hand (choosing ensemble weights on dev without re-running the models).
    """
    labels = list(scheme(task))
    if binary and task != "polarity":
        raise InvalidInputError("--binary only applies to --task polarity")
    name = model_name
    pred = predicted_labels(proba, task=task, binary=binary)
    if binary:
        eval_labels = ["negative", "positive"]
    else:
        present = set(data.labels) | set(pred)
        eval_labels = [label for label in labels if label in present]
    report = classification_report(data.labels, pred, eval_labels).to_dict()
    # Macro-F1 averages over the labels that occur in the data: a dataset
    # without, say, disgust is not scored on a class it cannot contain (its
    # wrong "disgust" predictions still cost the true classes recall).
    in_data = [label for label in eval_labels if label in set(data.labels)]
    report["macro_f1"] = round(
        sum(report["per_class"][label]["f1"] for label in in_data) / len(in_data), 6
    )
    report["macro_f1_labels"] = in_data
    return {"task": task, "binary": binary, "data": data.source, "model": name, **report}


def evaluate_file(
    path: str | Path,
    *,
    task: str,
    model: str | Path = "default",
    binary: bool = False,
    dataset: str | None = None,
    progress: Progress | None = None,
    text_column: str = "text",
    label_column: str = "label",
    predictions: str | Path | None = None,
) -> dict[str, Any]:
    """Read ``path`` (``text,label``) and evaluate ``model`` on it.

    Labels are canonical names, or ``0/1`` with ``binary``; ``dataset`` names
    another label map. Duplicates are kept (an evaluation file is scored as given).
    ``predictions``: write one row per input row (see :func:`write_predictions`)
    there, and the misclassified rows next to it (``<stem>.errors<suffix>``).
    """
    if binary and task != "polarity":
        raise InvalidInputError("--binary only applies to --task polarity")
    data = load_dataset(
        path,
        task=task,
        dataset=dataset or ("binary" if binary else "canonical"),
        drop_duplicates=False,
        text_column=text_column,
        label_column=label_column,
    )
    proba, name = predict_scheme_proba(model, data.texts, task=task, progress=progress)
    result = report_from_proba(data, proba, task=task, binary=binary, model_name=name)
    result["dropped"] = {k: v for k, v in data.report.items() if k not in ("read", "kept") and v}
    if predictions is not None:
        result.update(write_predictions(data, proba, predictions, task=task, binary=binary))
    return result


def predicted_labels(proba: np.ndarray, *, task: str, binary: bool = False) -> list[str]:
    """The label each row of ``proba`` (over ``task``'s canonical labels) predicts."""
    labels = list(scheme(task))
    if binary:
        neg, pos = labels.index("negative"), labels.index("positive")
        return ["positive" if p[pos] > p[neg] else "negative" for p in proba]
    return [labels[i] for i in proba.argmax(axis=1)]


def write_predictions(
    data: LabelledData,
    proba: np.ndarray,
    out: str | Path,
    *,
    task: str,
    binary: bool = False,
) -> dict[str, Any]:
    """Write per-row predictions to ``out`` and the misclassified rows beside it.

    Columns: ``row`` (the row number in the input file), ``text``, ``label``,
    ``predicted``, ``correct``, ``confidence`` (the predicted label's probability),
    one ``p_<label>`` column per label, then the input's other columns. CSV, or
    JSONL when ``out`` ends in ``.jsonl``. The errors file is ``<stem>.errors<suffix>``
    (the misclassified rows, the most confident mistakes first). Returns the two paths and the error count.
    """
    import csv
    import json

    labels = list(scheme(task))
    pred = predicted_labels(proba, task=task, binary=binary)
    rows: list[dict[str, Any]] = []
    for i, text in enumerate(data.texts):
        k = labels.index(pred[i])
        row: dict[str, Any] = {
            "row": data.rows[i] if data.rows else i + 1,
            "text": text,
            "label": data.labels[i],
            "predicted": pred[i],
            "correct": pred[i] == data.labels[i],
            "confidence": round(float(proba[i, k]), 6),
        }
        row.update({f"p_{lab}": round(float(proba[i, j]), 6) for j, lab in enumerate(labels)})
        for col, values in data.extra.items():
            row.setdefault(col, values[i])
        rows.append(row)
    errors = sorted((r for r in rows if not r["correct"]), key=lambda r: -r["confidence"])
    out_path = Path(out)
    errors_path = out_path.with_name(f"{out_path.stem}.errors{out_path.suffix or '.csv'}")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    for path, subset in ((out_path, rows), (errors_path, errors)):
        if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
            with path.open("w", encoding="utf-8") as fh:
                for r in subset:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        else:
            fields = list(rows[0]) if rows else ["row", "text", "label", "predicted"]
            with path.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(subset)
    return {"predictions": str(out_path), "errors": str(errors_path), "n_errors": len(errors)}
