"""Uploads: one multipart POST, or a resumable upload (tus 1.0.0 core + creation) for large files.

Each finished upload becomes an ingest job; its URL is in the response (``Location`` / ``job``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from kartenn.errors import Conflict, InvalidInput, KartennError, NotFound, TooLarge
from kartenn.services import uploads
from kartenn.services.jobs import JobRunner
from kartenn.services.limits import IngestLimits, check_file
from kartenn.services.series_publish import parse_naming
from kartenn.site import Site
from kartenn.web.api.jobs import job_json
from kartenn.web.deps import base_url, get_jobs, get_site

router = APIRouter(tags=["uploads"])
TUS_VERSION = "1.0.0"
TUS = {"Tus-Resumable": TUS_VERSION}


def _safe_name(name: str | None) -> str:
    base = Path((name or "upload").replace("\\", "/")).name
    base = re.sub(r"[^\w.\-]+", "_", base).strip("._") or "upload"
    return base[:120]


async def _check(site: Site, path: Path, filename: str) -> None:
    """Refuse at once (and forget) a file whose archive or raster header declares too much."""
    try:
        await run_in_threadpool(check_file, path, filename, IngestLimits.of(site.settings))
    except KartennError:
        shutil.rmtree(path.parent, ignore_errors=True)
        raise
    except Exception:  # noqa: S110 - a file the check cannot read: its job says why, as for any bad file
        pass


def _start_job(jobs: JobRunner, path: Path, filename: str, options: dict[str, str | None]) -> Any:
    params = {"path": str(path), "filename": filename, **{k: v for k, v in options.items() if v}}
    return jobs.submit("ingest", params)


@router.post("/uploads", status_code=202)
async def upload(request: Request, site: Annotated[Site, Depends(get_site)],
                 jobs: Annotated[JobRunner, Depends(get_jobs)]) -> Response:
    """Publish one file sent as multipart/form-data (field ``file``; optional ``title``, ``crs``, ``replace``,
    ``series``: the file holds measurements, its columns named as for ``kartenn ingest --series``)."""
    owner = site.publishing(None, False)  # who may publish is known before reading the body
    cap = site.settings.upload_max_bytes
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > cap + 1_000_000:
        raise TooLarge(f"upload of {length} bytes is over the {cap} bytes allowed; use the resumable upload")
    form = await request.form(max_files=1, max_fields=10)
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise InvalidInput("send the file as multipart/form-data in a field named 'file'")
    if _text(form.get("series")):
        parse_naming(_text(form.get("series")))  # a wrong option is refused before the file is kept
    filename = _safe_name(file.filename)
    folder = site.settings.uploads_dir / secrets.token_hex(8)
    folder.mkdir(parents=True)
    target = folder / filename
    written = 0
    with open(target, "wb") as out:
        while chunk := await file.read(1 << 20):
            written += len(chunk)
            if written > cap:
                out.close()
                shutil.rmtree(folder, ignore_errors=True)
                raise TooLarge(f"upload is over the {cap} bytes allowed")
            out.write(chunk)
    options = {k: _text(form.get(k)) for k in ("title", "crs", "replace", "variable", "series")}
    try:
        options.update(_owner(site, _text(form.get("org")), _text(form.get("public")), options.get("replace"), owner))
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    await _check(site, target, filename)
    job = _start_job(jobs, target, filename, options)
    url = f"{base_url(request)}/api/v1/jobs/{job.id}"
    return JSONResponse(job_json(job, base_url(request)), status_code=202, headers={"Location": url})


def _owner(site: Any, org: str | None, public: str | None, replace: str | None, default: Any) -> dict[str, Any]:
    """Job parameters saying who publishes, for whom; a replace needs the right to edit the dataset."""
    sharing = site.publishing(org, public == "true") if org or public else default
    _may_replace(site, replace)
    return {"org": sharing.org, "public": "true" if sharing.public else None, "created_by": site.identity.user}


def _still_allowed(site: Any, options: dict[str, Any]) -> None:
    """The rights a resumable upload was started with, asked again with each part: they may have been taken back."""
    site.publishing(options.get("org"), options.get("public") == "true")
    _may_replace(site, options.get("replace"))


def _may_replace(site: Any, replace: str | None) -> None:
    """A replace needs the dataset (404 for those who may not see it) and the right to edit it."""
    if replace:
        site.catalog.get_dataset(replace)
        site.require("edit", "dataset", replace)


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# resumable uploads (tus) ------------------------------------------------------------------------------


def _offset(folder: Path, info: dict[str, Any]) -> int:
    if "offset" in info:  # complete: the file has moved on to its ingest job
        return int(info["offset"])
    return (folder / info["filename"]).stat().st_size


def _session_dir(site: Site, upload_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{16}", upload_id):
        raise NotFound(f"no upload {upload_id!r}")
    folder = site.settings.uploads_dir / "resumable" / upload_id
    if not (folder / "meta.json").exists():
        raise NotFound(f"no upload {upload_id!r}")
    if json.loads((folder / "meta.json").read_text()).get("user") != site.identity.user:
        raise NotFound(f"no upload {upload_id!r}")  # another caller's upload does not exist for this one
    return folder


def _metadata(header: str | None) -> dict[str, str]:
    values = {}
    for pair in (header or "").split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, _, encoded = pair.partition(" ")
        try:
            values[key] = base64.b64decode(encoded, validate=True).decode("utf-8") if encoded else ""
        except ValueError as exc:
            raise InvalidInput(f"Upload-Metadata value of {key!r} is not base64") from exc
    return values


@router.options("/uploads/resumable")
def tus_options(site: Annotated[Site, Depends(get_site)]) -> Response:
    return Response(status_code=204, headers={**TUS, "Tus-Version": TUS_VERSION, "Tus-Extension": "creation",
                                              "Tus-Max-Size": str(site.settings.upload_max_bytes)})


@router.post("/uploads/resumable", status_code=201)
def tus_create(request: Request, site: Annotated[Site, Depends(get_site)]) -> Response:
    owner = site.publishing(None, False)
    length = request.headers.get("upload-length", "")
    if not length.isdigit():
        raise InvalidInput("Upload-Length header is required (the file size in bytes)")
    if int(length) > site.settings.upload_max_bytes:
        raise TooLarge(f"upload of {length} bytes is over the {site.settings.upload_max_bytes} bytes allowed")
    meta = _metadata(request.headers.get("upload-metadata"))
    options = {k: meta.get(k) for k in ("title", "crs", "replace", "variable", "series")}
    if options.get("series"):
        parse_naming(options["series"])
    options.update(_owner(site, meta.get("org"), meta.get("public"), options.get("replace"), owner))  # nothing kept
    upload_id = uploads.start_resumable(site, int(length), _safe_name(meta.get("filename") or meta.get("name")),
                                        options)
    location = f"{base_url(request)}/api/v1/uploads/resumable/{upload_id}"
    return Response(status_code=201, headers={**TUS, "Location": location, "Upload-Offset": "0"})


@router.head("/uploads/resumable/{upload_id}")
def tus_head(upload_id: str, site: Annotated[Site, Depends(get_site)]) -> Response:
    folder = _session_dir(site, upload_id)
    info = json.loads((folder / "meta.json").read_text())
    offset = _offset(folder, info)
    return Response(status_code=200, headers={**TUS, "Upload-Offset": str(offset),
                                              "Upload-Length": str(info["length"]), "Cache-Control": "no-store"})


@router.get("/uploads/resumable/{upload_id}")
def tus_status(upload_id: str, site: Annotated[Site, Depends(get_site)]) -> dict[str, Any]:
    folder = _session_dir(site, upload_id)
    info = json.loads((folder / "meta.json").read_text())
    offset = _offset(folder, info)
    return {"id": upload_id, "offset": offset, "length": info["length"], "job": info.get("job")}


@router.patch("/uploads/resumable/{upload_id}")
async def tus_patch(upload_id: str, request: Request, site: Annotated[Site, Depends(get_site)],
                    jobs: Annotated[JobRunner, Depends(get_jobs)]) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/offset+octet-stream":
        return Response(status_code=415, headers=TUS)
    folder = _session_dir(site, upload_id)
    info = json.loads((folder / "meta.json").read_text())
    if info.get("job") or info.get("refused"):
        raise Conflict("this upload is complete")
    _still_allowed(site, info["options"])
    target = folder / info["filename"]
    offset = target.stat().st_size
    claimed = request.headers.get("upload-offset", "")
    if not claimed.isdigit():
        raise InvalidInput("Upload-Offset header is required")
    if int(claimed) != offset:
        return Response(status_code=409, headers={**TUS, "Upload-Offset": str(offset)})
    with open(target, "ab") as out:
        async for chunk in request.stream():
            if offset + len(chunk) > info["length"]:
                out.truncate(offset)
                raise InvalidInput("more bytes than Upload-Length announced")
            out.write(chunk)
            offset += len(chunk)
    headers = {**TUS, "Upload-Offset": str(offset)}
    if offset == info["length"]:
        final = site.settings.uploads_dir / secrets.token_hex(8)
        final.mkdir()
        moved = final / info["filename"]
        shutil.move(target, moved)
        info["offset"] = offset
        try:
            await _check(site, moved, info["filename"])
        except Exception:
            info["refused"] = True
            (folder / "meta.json").write_text(json.dumps(info))
            raise
        job = _start_job(jobs, moved, info["filename"], info["options"])
        info["job"] = f"{base_url(request)}/api/v1/jobs/{job.id}"
        (folder / "meta.json").write_text(json.dumps(info))
        headers["Kartenn-Job"] = info["job"]
    return Response(status_code=204, headers=headers)
