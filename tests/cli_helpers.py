"""Running the borderwatch CLI in-process from tests."""

from __future__ import annotations

from borderwatch.cli import main


def call(argv, capsys):
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err
