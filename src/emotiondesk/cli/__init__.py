"""The typer command line (thin: each command parses arguments and calls one function)."""
