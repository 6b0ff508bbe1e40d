"""Helpers shared by the CLI commands: errors, JSON output, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console

from emotiondesk.errors import EmotionDeskError

#: Human output goes to stderr; stdout carries results (and --json) only.
err_console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn domain errors into a one-line message and exit code 2 (no stack trace)."""
    try:
        yield
    except EmotionDeskError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, markup=True)
        raise typer.Exit(code=2) from None
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def print_json(obj: Any) -> None:
    """One JSON document on one line of stdout (UTF-8, not ASCII-escaped)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


#: Lines that end an interactive session (as EOF and Ctrl-C do).
QUIT_COMMANDS = ("/quit", "/exit", "/q")


def read_lines(prompt: str) -> Iterator[str]:
    """The user's lines, stripped, blank ones skipped, until EOF, Ctrl-C or ``/quit``.

    The prompt is shown only on a terminal, so scripted stdin reads cleanly.
    """
    shown = prompt if sys.stdin.isatty() else ""
    while True:
        try:
            line = input(shown).strip()
        except (EOFError, KeyboardInterrupt):
            return
        if line in QUIT_COMMANDS:
            return
        if line:
            yield line
