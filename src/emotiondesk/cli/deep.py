"""Deep-model commands: ``export`` (ONNX + int8) and ``pretrain`` (MLM), and the
transformer options of ``train``. Heavy imports happen inside the commands."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from emotiondesk.cli.common import err_console, print_json, user_errors


def _log_to_stderr() -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    # The root logger stays at WARNING (onnxruntime's quantiser logs every tensor at INFO there).
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("emotiondesk").setLevel(logging.INFO)


def parse_settings(settings: list[str] | None) -> dict[str, Any]:
    """``["lr=3e-5", "method=lora"]`` -> ``{"lr": 3e-05, "method": "lora"}`` (YAML-typed values)."""
    import yaml

    from emotiondesk.errors import InvalidInputError

    out: dict[str, Any] = {}
    for item in settings or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--set takes KEY=VALUE, not {item!r}")
        out[key.strip().replace("-", "_")] = _typed(value, yaml)
    return out


def _typed(value: str, yaml: Any) -> Any:
    """A number if it reads as one (``1e-3`` included, unlike YAML 1.1), else YAML, else the string."""
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def transformer_options(
    *,
    config: Path | None,
    method: str | None,
    epochs: float | None,
    lr: float | None,
    batch_size: int | None,
    max_length: int | None,
    device: str | None,
    resume: bool,
    seed: int,
    settings: list[str] | None,
) -> dict[str, Any]:
    """The ``options`` of ``train`` for the transformer trainer (None = not given)."""
    _log_to_stderr()
    options: dict[str, Any] = {
        "config": str(config) if config is not None else None,
        "method": method,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "max_length": max_length,
        "device": device,
        "resume": resume or None,
        "seed": seed,
    }
    options.update(parse_settings(settings))
    options.setdefault("command", shlex.join(["emotiondesk", *sys.argv[1:]]))
    return options


def export_command(
    model: Annotated[Path, typer.Argument(help="A transformer model directory (from train).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the ONNX model (default: MODEL/onnx)."),
    ] = None,
    quantize: Annotated[
        bool, typer.Option("--quantize/--no-quantize", help="int8 dynamic quantisation.")
    ] = True,
    per_channel: Annotated[
        bool,
        typer.Option(
            "--per-channel/--per-tensor", help="int8 scales per output channel or per tensor."
        ),
    ] = True,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="dynamic (int8 weights and activations, fastest) or weight-only "
            "(int8 weights, 4-bit word table, fp32 activations: closest to fp32).",
        ),
    ] = "dynamic",
    fp32_layers: Annotated[
        int,
        typer.Option(
            "--fp32-layers",
            min=0,
            help="With --method weight-only: the last N encoder layers keep fp32 weights.",
        ),
    ] = 0,
    parity_data: Annotated[
        Path | None,
        typer.Option(
            "--parity-data", help="CSV/JSONL/Parquet with a text column for the parity check."
        ),
    ] = None,
    parity_max: Annotated[
        int, typer.Option("--parity-max", help="At most this many parity texts.")
    ] = 2000,
    min_agreement: Annotated[
        float, typer.Option("--min-agreement", help="Least label agreement accepted.")
    ] = 0.995,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the export report as JSON.")
    ] = False,
) -> None:
    """Export a transformer model to ONNX (int8), checking parity with the torch model."""
    with user_errors():
        _log_to_stderr()
        from emotiondesk.training.export import export_onnx

        texts = None
        if parity_data is not None:
            from emotiondesk.data import read_records

            _, records, _ = read_records(parity_data)
            texts = [str(r.get("text") or "") for r in records if r.get("text")][:parity_max]
        with err_console.status("exporting"):
            report = export_onnx(
                model,
                out,
                quantize=quantize,
                parity_texts=texts,
                min_agreement=min_agreement,
                per_channel=per_channel,
                method=method,
                fp32_layers=fp32_layers,
            )
    if as_json:
        print_json(report.to_dict())
        return
    err_console.print(
        f"exported {report.out} ({report.size_bytes / 1e6:.1f} MB); label agreement "
        f"{report.agreement}, max probability difference {report.max_prob_diff}"
    )


def pretrain_command(
    corpus: Annotated[
        list[Path], typer.Argument(help="Text files (.txt lines or .csv text column).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory (a HF checkpoint).")],
    base: Annotated[
        str | None,
        typer.Option(
            "--base", help="Continue this checkpoint (hub id or dir); default: a new compact BERT."
        ),
    ] = None,
    vocab: Annotated[
        str, typer.Option("--vocab", help="New models: zh-char-bigram or wordpiece.")
    ] = "zh-char-bigram",
    vocab_size: Annotated[int, typer.Option("--vocab-size")] = 8000,
    hidden_size: Annotated[int, typer.Option("--hidden-size")] = 256,
    layers: Annotated[int, typer.Option("--layers")] = 4,
    heads: Annotated[int, typer.Option("--heads")] = 4,
    max_length: Annotated[int, typer.Option("--max-length")] = 128,
    epochs: Annotated[float, typer.Option("--epochs")] = 1.0,
    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps",
            help="Stop after this many updates; 0 saves the initialised model (no pretraining).",
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    lr: Annotated[float, typer.Option("--lr")] = 5e-4,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the latest checkpoint.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed")] = 42,
) -> None:
    """Masked-language-model pretraining on unlabelled text (domain adaptation)."""
    with user_errors():
        _log_to_stderr()
        from emotiondesk.training.pretrain import PretrainArgs, pretrain_mlm

        args = PretrainArgs(
            corpus=[str(p) for p in corpus],
            out=str(out),
            base=base,
            vocab=vocab,
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            num_layers=layers,
            num_heads=heads,
            intermediate_size=4 * hidden_size,
            max_length=max_length,
            epochs=epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            lr=lr,
            resume=resume,
            seed=seed,
        )
        path = pretrain_mlm(args)
    err_console.print(f"saved {path}")
