"""The one model-card writer: every ``README.md`` beside a model goes through here.

A model card is a title, a few lines under it, and sections (``## name`` and
their lines). The fine-tuning trainer writes a whole card
(:meth:`ModelCard.for_transformer`); the ONNX export reads the source model's
card and adds its own section (:meth:`ModelCard.read`,
:meth:`ModelCard.with_section`); the pack scripts in ``benchmarks/`` write
theirs with :func:`write_card`.

Example:
    >>> card = ModelCard("my model", ["- base: tiny"]).with_section("Notes", ["- none"])
    >>> print(card.render())
    # my model
    <BLANKLINE>
    - base: tiny
    <BLANKLINE>
    ## Notes
    <BLANKLINE>
    - none
    <BLANKLINE>
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emotiondesk.training.args import TrainingArgs

CARD_FILE = "README.md"


@dataclass(frozen=True)
class ModelCard:
    """A Markdown model card: a title, lines under it, then ``(section, lines)`` pairs.

    ``preamble`` holds a card read from disk verbatim (its title included), so
    that adding a section never rewrites what another writer put there.
    """

    title: str = ""
    intro: Sequence[str] = ()
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    preamble: str = ""

    def with_section(self, name: str, lines: Sequence[str]) -> ModelCard:
        """This card with one more ``## name`` section at the end."""
        return replace(self, sections=(*self.sections, (name, tuple(lines))))

    def render(self) -> str:
        out: list[str] = []
        if self.preamble:
            out += [self.preamble.rstrip(), ""]
        if self.title:
            out += [f"# {self.title}", ""]
        if self.intro:
            out += [*self.intro, ""]
        for name, lines in self.sections:
            out += [f"## {name}", ""]
            if lines:
                out += [*lines, ""]
        return "\n".join(out)

    def write(self, directory: str | Path) -> Path:
        """Write the card as ``directory/README.md``."""
        return write_card(directory, self.render())

    @classmethod
    def read(cls, directory: str | Path) -> ModelCard:
        """The card of the model in ``directory`` (an empty card when it has none)."""
        path = Path(directory) / CARD_FILE
        return cls(preamble=path.read_text(encoding="utf-8") if path.is_file() else "")

    @classmethod
    def for_transformer(
        cls, args: TrainingArgs, report: Mapping[str, Any], meta: Mapping[str, Any]
    ) -> ModelCard:
        """The fine-tuning trainer's card: data, dev figures, calibration, settings, cost."""
        training = meta["training"]
        intro = [
            f"- base: `{args.base}` ({args.method} fine-tuning, {args.pooling} pooling, max length "
            f"{meta.get('max_length', args.max_length or 'model default')})",
            f"- version: {args.version}",
            f"- training time: {training['train_seconds']} s "
            f"(per epoch: {training['epoch_seconds']} s), best at update "
            f"{training['best_update']} of {training['updates']}",
        ]
        if args.command:
            intro += ["", "Trained with:", "", "```", args.command, "```"]
        data = []
        for spec in args.tasks:
            f = report[spec.task]
            data.append(
                f"- {spec.task}: train `{Path(spec.train).name}` ({sum(f['train_counts'].values())} rows: "
                f"{f['train_counts']}), dev `{Path(spec.dev).name}` ({f['n']} rows), label map `{spec.dataset}`"
                + (" (0/1 binary)" if spec.binary else "")
            )
        figures = [
            "| task | accuracy | macro-F1 | T | ECE before | ECE after |",
            "|---|---|---|---|---|---|",
        ]
        for task, f in report.items():
            figures.append(
                f"| {task} | {f['accuracy']:.4f} | {f['macro_f1']:.4f} | {f['temperature']:.3f} | "
                f"{f['ece_before']:.4f} | {f['ece_after']:.4f} |"
            )
        for task, f in report.items():
            figures += [
                "",
                f"### {task} per class",
                "",
                "| label | precision | recall | F1 | support |",
                "|---|---|---|---|---|",
            ]
            for label, c in f["per_class"].items():
                figures.append(
                    f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |"
                )
        figures += [
            "",
            "Probabilities are temperature-scaled (T fitted on dev, minimising NLL); ECE uses 15 bins.",
        ]
        settings = {k: v for k, v in args.to_dict().items() if k not in ("tasks",)}
        return (
            cls(f"emotiondesk transformer model ({', '.join(report)})", intro)
            .with_section("Data", data)
            .with_section("Dev figures", figures)
            .with_section("Settings", ["```json", json.dumps(settings, indent=1), "```"])
        )


def onnx_export_lines(
    *,
    quantized: bool,
    per_channel: bool,
    opset: int,
    size_bytes: int,
    n_texts: int,
    agreement: Mapping[str, float],
    max_prob_diff: Mapping[str, float],
) -> list[str]:
    """The lines of the ONNX export's section: the format and the parity check."""
    kind = "int8 dynamic quantisation" if quantized else "fp32"
    channel = " (per channel)" if quantized and per_channel else ""
    return [
        f"- {kind}{channel}, opset {opset}, {size_bytes / 1e6:.1f} MB",
        f"- parity on {n_texts} texts: label agreement "
        + ", ".join(f"{t} {a:.4f}" for t, a in agreement.items())
        + "; max probability difference "
        + ", ".join(f"{t} {d:.4f}" for t, d in max_prob_diff.items()),
    ]


def write_card(directory: str | Path, text: str) -> Path:
    """Write ``text`` as the model card ``directory/README.md``; returns its path."""
    path = Path(directory) / CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path
