"""``emotiondesk train``: train a polarity or emotion model from labelled files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from emotiondesk.cli.common import err_console, print_json, user_errors


def _range(value: str | None, name: str) -> tuple[int, int] | None:
    from emotiondesk.errors import InvalidInputError

    if value is None:
        return None
    try:
        lo, hi = (int(v) for v in value.split(","))
    except ValueError:
        raise InvalidInputError(f"{name} takes two numbers like 1,3, not {value!r}") from None
    if not 0 <= lo <= hi <= 8:
        raise InvalidInputError(f"{name} must satisfy 0 <= low <= high <= 8, not {value!r}")
    return (lo, hi)


def train_command(
    task: Annotated[str, typer.Option("--task", help="polarity or emotion.")],
    train: Annotated[
        Path, typer.Option("--train", help="Training file (CSV/JSONL/Parquet, text,label).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    dev: Annotated[
        Path | None,
        typer.Option(
            "--dev", help="Dev file for the reported figures (default: hold out 10% of --train)."
        ),
    ] = None,
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="'ngram' (fast n-gram model), 'use' (a head on the multilingual USE "
            "embeddings) or a transformer checkpoint (hub id or dir).",
        ),
    ] = "ngram",
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="Label map of the files (e.g. smp2020_ewect, sst2; default canonical names).",
        ),
    ] = "canonical",
    lang: Annotated[str, typer.Option("--lang", help="auto, zh or en (n-gram features).")] = "auto",
    c: Annotated[
        float | None,
        typer.Option("--C", help="n-gram and use: inverse regularisation strength."),
    ] = None,
    class_weight: Annotated[
        str | None,
        typer.Option("--class-weight", help="n-gram and use: 'balanced' to reweigh rare labels."),
    ] = None,
    char_ngrams: Annotated[
        str | None, typer.Option("--char-ngrams", help="n-gram: e.g. 1,3.")
    ] = None,
    word_ngrams: Annotated[
        str | None, typer.Option("--word-ngrams", help="n-gram: e.g. 1,2 (0,0 = none).")
    ] = None,
    keep_features: Annotated[
        int | None,
        typer.Option("--keep-features", help="n-gram: vocabulary size kept in the model."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every split.")] = 42,
    # -- transformer (--base <hub id or dir>) options: see TrainingArgs -----------------
    config: Annotated[
        Path | None, typer.Option("--config", help="transformer: YAML file of TrainingArgs.")
    ] = None,
    method: Annotated[
        str | None, typer.Option("--method", help="transformer: full or lora.")
    ] = None,
    epochs: Annotated[float | None, typer.Option("--epochs", help="transformer: epochs.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="transformer: learning rate.")] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="transformer: batch size.")
    ] = None,
    max_length: Annotated[
        int | None,
        typer.Option("--max-length", help="transformer: token limit (default: the model's own)."),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="transformer: auto, cpu or cuda.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="transformer: continue from the latest checkpoint.")
    ] = False,
    settings: Annotated[
        list[str] | None,
        typer.Option("--set", help="transformer: any TrainingArgs field, KEY=VALUE (repeatable)."),
    ] = None,
    text_col: Annotated[
        str, typer.Option("--text-col", help="The column holding the texts.")
    ] = "text",
    label_col: Annotated[
        str, typer.Option("--label-col", help="The column holding the labels.")
    ] = "label",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the training summary as JSON.")
    ] = False,
) -> None:
    """Train a model; --base ngram (default), use, charcnn, bigru, or a transformer checkpoint."""
    from emotiondesk.data import load_dataset
    from emotiondesk.errors import InvalidInputError
    from emotiondesk.training.dispatch import get_trainer, trainer_kind

    with user_errors():
        if task not in ("polarity", "emotion"):
            raise InvalidInputError(f"--task must be polarity or emotion, not {task!r}")
        trainer = get_trainer(base)
        train_data = load_dataset(
            train, task=task, dataset=dataset, text_column=text_col, label_column=label_col
        )
        if dev is not None:
            dev_data = load_dataset(
                dev,
                task=task,
                dataset=dataset,
                drop_duplicates=False,
                text_column=text_col,
                label_column=label_col,
            )
        else:
            train_data, dev_data = train_data.split(0.1, seed=seed)
            dev_data.source = f"{train} (10% held out, seed {seed})"
        err_console.print(
            f"training {trainer_kind(base)} {task} model on {len(train_data)} rows "
            f"{train_data.label_counts()}"
        )
        options: dict[str, Any] = {"language": lang}
        if trainer_kind(base) == "ngram":
            options.update(
                {
                    "C": c,
                    "class_weight": class_weight,
                    "char_ngram_range": _range(char_ngrams, "--char-ngrams"),
                    "word_ngram_range": _range(word_ngrams, "--word-ngrams"),
                    "keep_features": keep_features,
                    "random_state": seed,
                }
            )
        elif trainer_kind(base) == "use":
            options.update({"C": c, "class_weight": class_weight, "random_state": seed})
        else:
            from emotiondesk.cli.deep import transformer_options

            options.update(
                transformer_options(
                    config=config,
                    method=method,
                    epochs=epochs,
                    lr=lr,
                    batch_size=batch_size,
                    max_length=max_length,
                    device=device,
                    resume=resume,
                    seed=seed,
                    settings=settings,
                )
            )
        with err_console.status("fitting"):
            summary = trainer(
                task=task,
                train=train_data,
                dev=dev_data,
                out=out,
                base=base,
                dataset=dataset,
                options=options,
            )
    if as_json:
        print_json(summary)
        return
    console = Console()
    console.print(f"saved {summary['model_dir']}")
    if summary.get("dev"):
        d = summary["dev"]
        console.print(
            f"dev: n {d['n']}  accuracy {d['accuracy']:.4f}  macro-F1 {d['macro_f1']:.4f}"
        )
