"""pycsw 2.6 (CSW 2.0.2, CSW-T and OAI-PMH) on 127.0.0.1, as a harvest source for the tests.

pycsw 2.6 needs SQLAlchemy < 2, so it lives in its own virtualenv, tests/work/venv-pycsw, made by
scripts/install-test-deps.sh (or here on first use). Its repository is a SQLite file loaded with real ISO
records (tests/data/iso-metadata-records) by ``pycsw-admin.py``; its server is pycsw's own WSGI reference server.
Transactions are open to 127.0.0.1, so a test changes the source through CSW-T as a publisher would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from kartenn.testing.postgres import free_port

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "tests" / "work" / "venv-pycsw"
PACKAGES = ["pycsw==2.6.2", "sqlalchemy<2"]

CONFIG = """[server]
home={home}
url=http://127.0.0.1:{port}/
mimetype=application/xml; charset=UTF-8
encoding=UTF-8
language=en-US
maxrecords=5
loglevel=ERROR
logfile={folder}/pycsw-app.log
pretty_print=false
domainquerytype=list
domaincounts=false
profiles=apiso

[manager]
transactions=true
allowed_ips=127.0.0.1

[metadata:main]
identification_title=test catalogue
identification_abstract=records for harvesting
identification_keywords=test
identification_keywords_type=theme
identification_fees=None
identification_accessconstraints=None
provider_name=tests
provider_url=http://127.0.0.1
contact_name=tests
contact_position=tests
contact_address=tests
contact_city=tests
contact_stateorprovince=tests
contact_postalcode=tests
contact_country=tests
contact_phone=tests
contact_fax=tests
contact_email=tests@example.org
contact_url=http://127.0.0.1
contact_hours=tests
contact_instructions=tests
contact_role=pointOfContact

[repository]
database=sqlite:///{folder}/records.db
table=records

[metadata:inspire]
enabled=false
"""


def python() -> Path:
    """The virtualenv's Python, made with pycsw once."""
    marker = VENV / ".installed"
    wanted = " ".join(PACKAGES)
    if not marker.exists() or marker.read_text() != wanted:
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", *PACKAGES], check=True)
        marker.write_text(wanted)
    return VENV / "bin" / "python"


class Pycsw:
    """A pycsw server over its own repository in ``folder``, loaded with the XML files of ``records``."""

    def __init__(self, folder: Path, records: Path) -> None:
        self.folder, self.records = folder, records
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Pycsw:
        py = python()
        home = next(VENV.glob("lib/python3*/site-packages/pycsw"))
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "pycsw.cfg"
        config.write_text(CONFIG.format(home=home, port=self.port, folder=self.folder))
        admin = [str(py), str(VENV / "bin" / "pycsw-admin.py"), "-f", str(config)]
        subprocess.run([*admin, "-c", "setup_db"], check=True, capture_output=True)
        subprocess.run([*admin, "-c", "load_records", "-p", str(self.records)], check=True, capture_output=True)
        log = open(self.folder / "pycsw.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([str(py), "-m", "pycsw.wsgi", str(self.port)], cwd=self.folder, stdout=log,
                                     stderr=log, env={"PYCSW_CONFIG": str(config), "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pycsw exited: {(self.folder / 'pycsw.log').read_text()}")
            try:
                if httpx.get(self.url, params={"service": "CSW", "request": "GetCapabilities"},
                             timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("pycsw did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)

    def transaction(self, body: str) -> str:
        """Send a CSW-T request; the response, which must report success."""
        xml = ('<csw:Transaction xmlns:csw="http://www.opengis.net/cat/csw/2.0.2" '
               'xmlns:ogc="http://www.opengis.net/ogc" service="CSW" version="2.0.2">' + body + "</csw:Transaction>")
        answer = httpx.post(self.url, content=xml.encode(), headers={"Content-Type": "application/xml"}, timeout=30)
        assert answer.status_code == 200 and "TransactionResponse" in answer.text, answer.text
        return answer.text

    def insert(self, document: bytes) -> None:
        text = document.decode("utf-8")
        if text.startswith("<?xml"):
            text = text.split("?>", 1)[1]
        self.transaction(f"<csw:Insert>{text}</csw:Insert>")

    def update(self, document: bytes) -> None:
        text = document.decode("utf-8")
        if text.startswith("<?xml"):
            text = text.split("?>", 1)[1]
        self.transaction(f"<csw:Update>{text}</csw:Update>")

    def delete(self, identifier: str) -> None:
        self.transaction(
            '<csw:Delete><csw:Constraint version="1.1.0"><ogc:Filter><ogc:PropertyIsEqualTo>'
            f"<ogc:PropertyName>apiso:Identifier</ogc:PropertyName><ogc:Literal>{identifier}</ogc:Literal>"
            "</ogc:PropertyIsEqualTo></ogc:Filter></csw:Constraint></csw:Delete>")
