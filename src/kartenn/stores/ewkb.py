"""WKB → EWKB hex on whole Arrow arrays, without parsing a geometry: the SRID goes into the header.

>>> ewkb_hex(pa.array([bytes.fromhex("0101000000000000000000f03f0000000000000040")]), 4326).to_pylist()
['0101000020e6100000000000000000f03f0000000000000040']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SRID_FLAG = 0x20
HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def ewkb_hex(wkb: pa.Array, srid: int) -> pa.Array:
    """Hex EWKB strings carrying ``srid`` (PostGIS's text input), null where the WKB is null."""
    wkb = wkb.cast(pa.binary()) if wkb.type != pa.binary() else wkb
    n = len(wkb)
    _, offsets_buf, data_buf = wkb.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=n + 1, offset=wkb.offset * 4).astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8, count=int(offsets[-1]), offset=0)[offsets[0]:]
    offsets = offsets - offsets[0]
    lengths = np.diff(offsets)
    present = (lengths >= 5) & np.asarray(wkb.is_valid())
    # Each present geometry grows by 4 bytes (the SRID) after its 5-byte header.
    grow = np.where(present, 4, 0)
    new_offsets = np.concatenate([[0], np.cumsum(lengths + grow)])
    out = np.empty(int(new_offsets[-1]), dtype=np.uint8)
    starts = new_offsets[:-1][present]
    inserted = np.zeros(len(out), dtype=bool)
    inserted[(starts[:, None] + 5 + np.arange(4)).ravel()] = True
    out[~inserted] = data
    little = data[offsets[:-1][present]] == 1
    srid_bytes = np.frombuffer(np.array([srid], dtype="<u4").tobytes(), dtype=np.uint8)
    srid_big = srid_bytes[::-1]
    block = np.where(little[:, None], srid_bytes[None, :], srid_big[None, :])
    out[inserted] = block.ravel()
    # The flag sits in the type's most significant byte: last of the 4 in little endian, first in big.
    flag_pos = np.where(little, starts + 4, starts + 1)
    out[flag_pos] |= SRID_FLAG
    hexed = np.empty(len(out) * 2, dtype=np.uint8)
    hexed[0::2] = HEX[out >> 4]
    hexed[1::2] = HEX[out & 15]
    strings = pa.StringArray.from_buffers(n, pa.py_buffer((new_offsets * 2).astype(np.int32)), pa.py_buffer(hexed))
    if wkb.null_count == 0:
        return strings
    return pc.if_else(wkb.is_null(), pa.scalar(None, pa.string()), strings)
