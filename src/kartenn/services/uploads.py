"""Resumable uploads (tus): a folder per upload, owned by the user who started it, until the file is whole."""

from __future__ import annotations

import json
import secrets
from typing import Any


def start_resumable(site: Any, length: int, filename: str, options: dict[str, Any]) -> str:
    """A new, empty upload of ``length`` bytes for the caller, with an audit line; its id."""
    upload_id = secrets.token_hex(8)
    folder = site.settings.uploads_dir / "resumable" / upload_id
    folder.mkdir(parents=True)
    (folder / filename).touch()
    info = {"length": length, "filename": filename, "options": options, "user": site.identity.user}
    (folder / "meta.json").write_text(json.dumps(info))
    site.accounts.log(site.identity.name, "upload.start", f"upload:{upload_id}", filename=filename,
                      org=options.get("org"), replace=options.get("replace"))
    return upload_id
