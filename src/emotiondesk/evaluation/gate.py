"""The promotion gate: a candidate model version against the champion on frozen sets.

The sets: the shipped customer-service sets (``benchmarks/data``: the turn set
and the held-out inquiries, when the checkout has them), any dev files given
with ``--data`` (e.g. the shared public dev sets), and the held-back slice of
the feedback (never trained on). Each set is scored per language and task
by both versions, and the candidate passes when, on every set, language and
task:

- its macro-F1 is not more than ``macro_f1_max_drop`` below the champion's
  (relative) and not below ``min_macro_f1[language]`` (absolute);
- no class with at least ``min_support`` rows loses more than its allowed
  F1 drop (``class_max_drop``, per class in ``class_max_drop_per_class``);
- on the held-back feedback, its accuracy is at least the champion's plus
  ``feedback_min_gain``.

A failure names the set, language, task, class and the figures, e.g.
``cs_turns zh emotion: class 'anger' F1 0.712 -> 0.588 (-0.124, allowed -0.050)``.

Example:
    >>> report = run_gate(champion_dir, candidate_dir, shipped_gate_sets())  # doctest: +SKIP
    >>> report["passed"], report["failures"][:1]                               # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emotiondesk.data import load_dataset, read_records
from emotiondesk.errors import ConfigError, InvalidInputError
from emotiondesk.evaluation.metrics import classification_report
from emotiondesk.labels import scheme
from emotiondesk.text import detect_language

Progress = Callable[[int], None]
FEEDBACK_SET = "feedback (held back)"


@dataclass
class Thresholds:
    """What a candidate must keep (see the module docs); load with :func:`load_thresholds`."""

    min_support: int = 20
    macro_f1_max_drop: float = 0.02
    min_macro_f1: dict[str, float] = field(default_factory=dict)
    class_max_drop: float = 0.05
    class_max_drop_per_class: dict[str, float] = field(default_factory=dict)
    feedback_min_gain: float = 0.0
    feedback_min_support: int = 5

    def class_drop(self, label: str) -> float:
        return float(self.class_max_drop_per_class.get(label, self.class_max_drop))


def load_thresholds(path: str | Path | None) -> Thresholds:
    """Thresholds from a YAML or JSON file (keys of :class:`Thresholds`; others refused)."""
    if path is None:
        return Thresholds()
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the gate thresholds {path}: {exc}") from exc
    known = set(Thresholds.__dataclass_fields__)
    unknown = sorted(set(raw) - known) if isinstance(raw, dict) else ["(not a mapping)"]
    if unknown:
        raise ConfigError(f"{path}: unknown gate thresholds {unknown}; known: {sorted(known)}")
    try:
        return Thresholds(**raw)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class GateSet:
    """Labelled rows of one set for one task; ``languages`` per row."""

    name: str
    task: str
    texts: list[str]
    labels: list[str]
    languages: list[str]


def gate_set_from_file(
    path: str | Path, *, task: str, name: str | None = None, label_column: str = "label"
) -> GateSet:
    """A labelled file (``text`` + ``label_column``; a ``lang`` column is used when present)."""
    data = load_dataset(path, task=task, label_column=label_column)
    langs = data.extra.get("lang") or [detect_language(t) for t in data.texts]
    return GateSet(
        name=name or Path(path).stem,
        task=task,
        texts=list(data.texts),
        labels=list(data.labels),
        languages=[str(x) for x in langs],
    )


def shipped_data_dir() -> Path | None:
    """``benchmarks/data`` of a source checkout (absent from an installed wheel)."""
    path = Path(__file__).resolve().parents[3] / "benchmarks" / "data"
    return path if path.is_dir() else None


def shipped_gate_sets() -> tuple[list[GateSet], list[str]]:
    """The customer-service sets of the checkout, and notes on what is absent."""
    root = shipped_data_dir()
    if root is None:
        return [], ["benchmarks/data is absent (an installed package): no shipped gate sets"]
    sets: list[GateSet] = []
    turns = root / "cs_turns.csv"
    if turns.is_file():
        sets.append(
            gate_set_from_file(turns, task="polarity", name="cs_turns", label_column="polarity")
        )
        sets.append(
            gate_set_from_file(turns, task="emotion", name="cs_turns", label_column="emotion")
        )
    for lang in ("zh", "en"):
        path = root / f"cs_inquiries_{lang}_heldout.csv"
        if path.is_file():
            name = f"cs_inquiries_{lang}_heldout"
            sets.append(gate_set_from_file(path, task="polarity", name=name))
            sets.append(gate_set_from_file(path, task="emotion", name=name, label_column="emotion"))
    return sets, []


def feedback_gate_sets(
    texts: Sequence[str],
    polarity: Sequence[str | None],
    emotion: Sequence[str | None],
    languages: Sequence[str | None],
) -> list[GateSet]:
    """The held-back feedback as one set per task (rows without that task's label left out)."""
    sets = []
    for task, labels in (("polarity", polarity), ("emotion", emotion)):
        keep = [i for i, y in enumerate(labels) if y]
        if keep:
            sets.append(
                GateSet(
                    name=FEEDBACK_SET,
                    task=task,
                    texts=[texts[i] for i in keep],
                    labels=[str(labels[i]) for i in keep],
                    languages=[
                        str(languages[i]) if languages[i] else detect_language(texts[i])
                        for i in keep
                    ],
                )
            )
    return sets


def _predict(analyzer: Any, gate_set: GateSet, progress: Progress | None) -> list[str]:
    labels = list(scheme(gate_set.task))
    out: list[str] = []
    for start in range(0, len(gate_set.texts), 500):
        batch = gate_set.texts[start : start + 500]
        reading = analyzer.read_texts(batch)
        proba = reading.polarity if gate_set.task == "polarity" else reading.emotion
        out += [labels[i] for i in np.asarray(proba).argmax(axis=1)]
        if progress:
            progress(len(batch))
    return out


def run_gate(
    champion: str | Path,
    candidate: str | Path,
    sets: Sequence[GateSet],
    *,
    thresholds: Thresholds | None = None,
    champion_version: str = "",
    candidate_version: str = "",
    notes: Sequence[str] = (),
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Score both packs on every set and apply the thresholds; the report as a dict."""
    from emotiondesk.analyzer import load_analyzer

    if not sets:
        raise InvalidInputError("the gate has no sets to score (no shipped sets, no --data)")
    th = thresholds or Thresholds()
    champ = load_analyzer(champion)
    cand = load_analyzer(candidate)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    for gate_set in sets:
        pred_champ = _predict(champ, gate_set, progress)
        pred_cand = _predict(cand, gate_set, progress)
        for lang in sorted(set(gate_set.languages)):
            idx = [i for i, x in enumerate(gate_set.languages) if x == lang]
            truth = [gate_set.labels[i] for i in idx]
            entry = _compare(
                gate_set,
                lang,
                truth,
                [pred_champ[i] for i in idx],
                [pred_cand[i] for i in idx],
                th,
            )
            results.append(entry)
            failures += entry["failures"]
    return {
        "passed": not failures,
        "failures": failures,
        "champion": {"version": champion_version, "model": champ.version},
        "candidate": {"version": candidate_version, "model": cand.version},
        "thresholds": asdict(th),
        "notes": list(notes),
        "sets": results,
    }


def _compare(
    gate_set: GateSet,
    lang: str,
    truth: list[str],
    pred_champ: list[str],
    pred_cand: list[str],
    th: Thresholds,
) -> dict[str, Any]:
    labels = [
        y for y in scheme(gate_set.task) if y in set(truth) | set(pred_champ) | set(pred_cand)
    ]
    in_data = [y for y in labels if y in set(truth)]
    reports = {}
    for who, pred in (("champion", pred_champ), ("candidate", pred_cand)):
        r = classification_report(truth, pred, labels).to_dict()
        r["macro_f1"] = round(float(np.mean([r["per_class"][y]["f1"] for y in in_data])), 6)
        reports[who] = r
    where = f"{gate_set.name} {lang} {gate_set.task}"
    failures = []
    c, k = reports["champion"], reports["candidate"]
    is_feedback = gate_set.name == FEEDBACK_SET
    min_support = th.feedback_min_support if is_feedback else th.min_support
    drop = k["macro_f1"] - c["macro_f1"]
    if len(truth) >= min_support and drop < -th.macro_f1_max_drop:
        failures.append(
            f"{where}: macro-F1 {c['macro_f1']:.3f} -> {k['macro_f1']:.3f} "
            f"({drop:+.3f}, allowed -{th.macro_f1_max_drop:.3f})"
        )
    floor = th.min_macro_f1.get(lang)
    if floor is not None and k["macro_f1"] < floor:
        failures.append(f"{where}: macro-F1 {k['macro_f1']:.3f} < the floor {floor:.3f}")
    for label in in_data:
        support = c["per_class"][label]["support"]
        if support < min_support:
            continue
        f_c, f_k = c["per_class"][label]["f1"], k["per_class"][label]["f1"]
        allowed = th.class_drop(label)
        if f_k - f_c < -allowed:
            failures.append(
                f"{where}: class {label!r} F1 {f_c:.3f} -> {f_k:.3f} "
                f"({f_k - f_c:+.3f}, allowed -{allowed:.3f}; {support} rows)"
            )
    if is_feedback:
        gain = k["accuracy"] - c["accuracy"]
        if gain < th.feedback_min_gain:
            failures.append(
                f"{where}: accuracy {c['accuracy']:.3f} -> {k['accuracy']:.3f} "
                f"({gain:+.3f}, required +{th.feedback_min_gain:.3f})"
            )
    return {
        "set": gate_set.name,
        "language": lang,
        "task": gate_set.task,
        "n": len(truth),
        "champion": c,
        "candidate": k,
        "failures": failures,
    }


def report_markdown(report: dict[str, Any]) -> str:
    """The gate report in words, with both confusion matrices per set."""
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines = [
        f"# Gate: {report['candidate']['version']} vs champion {report['champion']['version']}: {verdict}",
        "",
        f"candidate {report['candidate']['model']}, champion {report['champion']['model']}",
        "",
    ]
    if report["failures"]:
        lines += ["## Failures", ""] + [f"- {f}" for f in report["failures"]] + [""]
    lines += [f"- note: {n}" for n in report.get("notes", [])]
    lines += [
        "",
        "## Summary",
        "",
        "| set | lang | task | n | accuracy champion -> candidate | macro-F1 champion -> candidate |",
        "|---|---|---|---:|---|---|",
    ]
    for s in report["sets"]:
        c, k = s["champion"], s["candidate"]
        lines.append(
            f"| {s['set']} | {s['language']} | {s['task']} | {s['n']} "
            f"| {c['accuracy']:.3f} -> {k['accuracy']:.3f} | {c['macro_f1']:.3f} -> {k['macro_f1']:.3f} |"
        )
    for s in report["sets"]:
        lines += ["", f"## {s['set']} {s['language']} {s['task']} (n={s['n']})", ""]
        labels = s["champion"]["labels"]
        lines += ["| class | support | F1 champion | F1 candidate |", "|---|---:|---:|---:|"]
        for y in labels:
            pc, pk = s["champion"]["per_class"][y], s["candidate"]["per_class"][y]
            lines.append(f"| {y} | {pc['support']} | {pc['f1']:.3f} | {pk['f1']:.3f} |")
        for who in ("champion", "candidate"):
            lines += ["", f"Confusion matrix, {who} (rows: true, columns: predicted)", ""]
            lines.append("| true \\ pred | " + " | ".join(labels) + " |")
            lines.append("|---|" + "---:|" * len(labels))
            for y, row in zip(labels, s[who]["confusion_matrix"], strict=True):
                lines.append(f"| {y} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], directory: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "report.json", out / "report.md"
    tmp = out / ".report.json.tmp"
    tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(json_path)
    md_path.write_text(report_markdown(report), encoding="utf-8")
    return json_path, md_path


def data_gate_set(spec: str) -> GateSet:
    """``TASK:FILE`` (a ``--data`` argument) as a gate set."""
    task, sep, path = spec.partition(":")
    if not sep or task not in ("polarity", "emotion"):
        raise InvalidInputError(
            f"--data {spec!r}: write TASK:FILE, e.g. polarity:dev.csv or emotion:dev.csv"
        )
    read_records(path)  # a clear error for a missing or unreadable file
    return gate_set_from_file(path, task=task)
