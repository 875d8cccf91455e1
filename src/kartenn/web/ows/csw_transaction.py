"""CSW 2.0.2 Transaction: Insert, Update and Delete of catalogue records by editors, all or nothing."""

from __future__ import annotations

from typing import Any

from lxml import etree

from kartenn.formats.dublin_core import CSW, render_csw_record
from kartenn.services import record_edits
from kartenn.site import Site
from kartenn.web.ows.common import OWSError
from kartenn.web.ows.csw_filter import cql_filter, fes_filter
from kartenn.web.ows.csw_params import OGC, XSI
from kartenn.web.ows.csw_responses import csw

PUBLICATION_LOCATION = f"{CSW} http://schemas.opengis.net/csw/2.0.2/CSW-publication.xsd"


def _constraint(holder: etree._Element) -> Any:
    constraint = holder.find(f"{{{CSW}}}Constraint")
    if constraint is None:
        raise OWSError("MissingParameterValue", "an update or a delete needs a csw:Constraint", "Constraint")
    flt = constraint.find(f"{{{OGC}}}Filter")
    if flt is not None:
        return fes_filter(flt)
    return cql_filter(constraint.findtext(f"{{{CSW}}}CqlText") or "")


def transaction(site: Site, root: etree._Element) -> etree._Element:
    """csw:Transaction: Insert, Update (a whole record, or csw:RecordProperty) and Delete, all or nothing."""
    record_edits.require_editor(site)  # before reading the records: who may not write learns nothing more
    tx = record_edits.Transaction()
    actions = [a for a in root.iterchildren() if isinstance(a.tag, str)]
    if not actions:
        raise OWSError("MissingParameterValue", "the transaction has no Insert, Update or Delete", "Transaction")
    for action in actions:
        kind = etree.QName(action).localname if etree.QName(action).namespace == CSW else ""
        if kind == "Insert":
            found = record_edits.records_of(action)
            if not found:
                raise OWSError("MissingParameterValue", "csw:Insert holds no record", "Insert")
            tx.inserts += found
        elif kind == "Update":
            found = record_edits.records_of(action)
            if len(found) > 1:
                raise OWSError("InvalidParameterValue", "one record per csw:Update", "Update")
            if found:
                tx.updates.append(record_edits.Update(record=found[0]))
                continue
            properties = {}
            for prop in action.iterfind(f"{{{CSW}}}RecordProperty"):
                prop_name = (prop.findtext(f"{{{CSW}}}Name") or "").strip()
                if not prop_name:
                    raise OWSError("MissingParameterValue", "csw:RecordProperty needs a csw:Name", "RecordProperty")
                properties[prop_name] = prop.findtext(f"{{{CSW}}}Value") or ""
            if not properties:
                raise OWSError("MissingParameterValue", "csw:Update needs a record or csw:RecordProperty", "Update")
            tx.updates.append(record_edits.Update(properties=properties, where=_constraint(action)))
        elif kind == "Delete":
            tx.deletes.append(_constraint(action))
        else:
            raise OWSError("InvalidParameterValue", f"<{etree.QName(action).localname}> is not a transaction action",
                           "Transaction")
    result = record_edits.transact(site, tx)
    summary = csw.TransactionSummary(csw.totalInserted(str(len(result.inserted))),
                                     csw.totalUpdated(str(result.updated)), csw.totalDeleted(str(result.deleted)))
    if root.get("requestId"):
        summary.set("requestId", root.get("requestId"))
    response = csw.TransactionResponse(summary, version="2.0.2")
    if result.inserted:
        response.append(csw.InsertResult(*[render_csw_record(r, "brief") for r in result.inserted]))
    response.set(f"{{{XSI}}}schemaLocation", PUBLICATION_LOCATION)
    return response
