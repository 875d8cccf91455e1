"""Options several commands share, written once (cli.py and the commands kept in modules of their own)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[Path, typer.Option("--data-dir", "-d", help="The site's data directory.",
                                       envvar="KARTENN_DATA_DIR")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
