"""Load a folder of XML records into a pycsw 2.6 repository; run with the pycsw virtualenv's Python.

pycsw's own ``pycsw-admin.py -c load_records`` commits once per record; this does what it does (the same
``metadata.parse_record`` and repository model) with one commit per 1,000 records, so 100,000 load in minutes.

The repository is made by ``admin.setup_db``, what ``pycsw-admin.py -c setup_db`` runs: on SQLite the SFSQL
tables and the records table; on PostgreSQL with PostGIS (create the extension first, as pycsw's administration
guide advises) also the full-text column ``anytext_tsvector`` with its GIN index ``fts_gin_idx`` and the native
geometry ``wkb_geometry`` with its GiST index, both filled by triggers. A PostgreSQL repository is then
optimized as ``pycsw-admin.py -c optimize_db`` does (VACUUM ANALYZE).

    bench/work/venv-pycsw/bin/python bench/pycsw_load.py sqlite:////path/records.db FOLDER
    bench/work/venv-pycsw/bin/python bench/pycsw_load.py postgresql://user@host:port/database FOLDER
"""

import os
import sys
import time

from lxml import etree
from pycsw.core import admin, metadata, repository, util
from pycsw.core.config import StaticContext


def main(database: str, folder: str) -> None:
    context = StaticContext()
    home = os.path.dirname(admin.__file__)
    admin.setup_db(database, "records", home)
    repo = repository.Repository(database, context, table="records")
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(folder) for f in names if f.endswith(".xml"))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    batch = 0
    repo.session.begin()
    for i, path in enumerate(files, 1):
        for record in metadata.parse_record(context, etree.parse(path, context.parser), repo):
            if isinstance(record.xml, bytes):
                record.xml = record.xml.decode()
            record.insert_date = now
            repo.session.add(record)
            batch += 1
        if batch >= 1000:
            repo.session.commit()
            repo.session.begin()
            batch = 0
            print(f"{i}/{len(files)}", flush=True)
    repo.session.commit()
    print(f"loaded {len(files)} files at {util.get_today_and_now()} ({repo.dbtype}, full-text index: {repo.fts})",
          flush=True)
    if database.startswith("postgresql"):
        admin.optimize_db(context, database, "records")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
