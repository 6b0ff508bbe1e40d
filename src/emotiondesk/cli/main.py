"""The ``emotiondesk`` command."""

from __future__ import annotations

import typer

from emotiondesk.cli.analyze import analyze_command
from emotiondesk.cli.chat import chat_command
from emotiondesk.cli.db_cmd import db_app
from emotiondesk.cli.deep import export_command, pretrain_command
from emotiondesk.cli.evaluate_cmd import evaluate_command
from emotiondesk.cli.feedback_cmd import feedback_app
from emotiondesk.cli.import_cmd import import_command
from emotiondesk.cli.jobs_cmd import jobs_app
from emotiondesk.cli.keys_cmd import keys_app
from emotiondesk.cli.learn_cmd import learn_command
from emotiondesk.cli.models_cmd import models_app
from emotiondesk.cli.practice import practice_command
from emotiondesk.cli.robustness_cmd import robustness_command
from emotiondesk.cli.score_cmd import score_command
from emotiondesk.cli.serve import demo_command, serve_command
from emotiondesk.cli.train_cmd import train_command

app = typer.Typer(
    name="emotiondesk",
    help="Emotion-aware customer service analysis for Chinese and English.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("analyze")(analyze_command)
app.command("evaluate")(evaluate_command)
app.command("robustness")(robustness_command)
app.command("train")(train_command)
app.add_typer(models_app, name="models")
# deep models (issue 3)
app.command("export")(export_command)
app.command("pretrain")(pretrain_command)
# service (issue 4)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
# the learning loop (issue 11): corrections out for training and review
app.add_typer(feedback_app, name="feedback")
# analytics and dashboard (issue 6)
app.command("import")(import_command)
# batch scoring of files, local or on Ray (issue 14)
app.command("score")(score_command)
# conversation intelligence (issue 5)
app.command("chat")(chat_command)
# agent quality (issue 12)
app.command("practice")(practice_command)
# the learning loop: corrections -> candidate -> gate -> registry (issue 11)
app.command("learn")(learn_command)
app.add_typer(jobs_app, name="jobs")


def main() -> None:
    """Console-script entry point."""
    app()
