#!/usr/bin/env python3
"""Damages an evtx file in one precise way, then makes every CRC that should still hold valid
again (the file header CRC and each chunk's header and records CRC), so that exactly the intended
fault remains. Used by the robust_* end-to-end cases (in their setup) and tests/robust/*.py.

  evtx_patch.py IN OUT record-size N SIZE     record N (1-based in file order) claims SIZE bytes
  evtx_patch.py IN OUT utf16 TEXT UNITS [K]   the K-th (default: every) UTF-16LE occurrence of
                                              TEXT gets the code units UNITS (comma-separated hex,
                                              as many as TEXT has characters), e.g. d800,0041
  evtx_patch.py IN OUT chunk-crc N            chunk N's (0-based) records CRC is inverted
  evtx_patch.py IN OUT free-space N K         chunk N's (0-based) last K records become free
                                              space, as when a reused chunk's older records
                                              remain behind its new ones (header record range,
                                              last record offset and free space offset moved back)
  evtx_patch.py IN OUT stale-template N       record N (1-based in file order) names another
                                              template than the one at the offset it gives
                                              (as when the definition was overwritten)
  evtx_patch.py IN OUT none                   only recomputes the CRCs
"""
import struct
import sys
import zlib

FILE_HEADER = 4096
CHUNK = 65536


def chunks(d):
    off = FILE_HEADER
    while off + CHUNK <= len(d):
        if d[off:off + 8] == b"ElfChnk\0":
            yield off
        off += CHUNK


def fix_crcs(d, skip_records_crc=()):
    for n, off in enumerate(chunks(d)):
        free = struct.unpack_from("<I", d, off + 0x30)[0]
        if n not in skip_records_crc and 0x200 <= free <= CHUNK:
            struct.pack_into("<I", d, off + 0x34, zlib.crc32(bytes(d[off + 0x200:off + free])))
        hdr = bytes(d[off:off + 0x78]) + bytes(d[off + 0x80:off + 0x200])
        struct.pack_into("<I", d, off + 0x7C, zlib.crc32(hdr))
    struct.pack_into("<I", d, 0x7C, zlib.crc32(bytes(d[0:0x78])))


def records(d):
    for off in chunks(d):
        free = struct.unpack_from("<I", d, off + 0x30)[0]
        r = off + 0x200
        while r + 24 <= off + min(free, CHUNK) and d[r:r + 4] == b"**\0\0":
            size = struct.unpack_from("<I", d, r + 4)[0]
            yield r
            if size < 24:
                break
            r += size


def main():
    src, dst, what = sys.argv[1:4]
    args = sys.argv[4:]
    d = bytearray(open(src, "rb").read())
    skip = ()
    if what == "record-size":
        n, size = int(args[0]), int(args[1], 0)
        r = list(records(d))[n - 1]
        struct.pack_into("<I", d, r + 4, size)
    elif what == "utf16":
        old = args[0].encode("utf-16le")
        units = [int(u, 16) for u in args[1].split(",")]
        assert len(units) * 2 == len(old), "UNITS must have as many code units as TEXT"
        new = b"".join(struct.pack("<H", u) for u in units)
        which = int(args[2]) if len(args) > 2 else 0
        k, pos, hits = 0, 0, 0
        while True:
            pos = d.find(old, pos)
            if pos < 0:
                break
            k += 1
            if which in (0, k):
                d[pos:pos + len(old)] = new
                hits += 1
            pos += len(old)
        assert hits, "TEXT not found"
    elif what == "chunk-crc":
        skip = (int(args[0]),)
    elif what == "free-space":
        n, k = int(args[0]), int(args[1])
        off = list(chunks(d))[n]
        recs = [r for r in records(d) if off <= r < off + CHUNK]
        assert 0 < k < len(recs), "K must leave at least one record in the chunk"
        keep = recs[:-k]
        last = keep[-1]
        last_id = struct.unpack_from("<Q", d, last + 8)[0]
        struct.pack_into("<Q", d, off + 0x10, last_id)  # last event record number
        struct.pack_into("<Q", d, off + 0x20, last_id)  # last event record identifier
        struct.pack_into("<I", d, off + 0x2C, last - off)  # last event record offset
        struct.pack_into("<I", d, off + 0x30, recs[-k] - off)  # free space offset
    elif what == "stale-template":
        r = list(records(d))[int(args[0]) - 1]
        assert d[r + 24:r + 30] == b"\x0f\x01\x01\x00\x0c\x01", "not a template instance"
        d[r + 30] ^= 0xFF
    elif what != "none":
        sys.exit(f"evtx_patch.py: unknown damage '{what}'")
    fix_crcs(d, skip)
    if what == "chunk-crc":
        off = list(chunks(d))[skip[0]]
        v = struct.unpack_from("<I", d, off + 0x34)[0]
        struct.pack_into("<I", d, off + 0x34, v ^ 0xFFFFFFFF)
        hdr = bytes(d[off:off + 0x78]) + bytes(d[off + 0x80:off + 0x200])
        struct.pack_into("<I", d, off + 0x7C, zlib.crc32(hdr))
    open(dst, "wb").write(d)


if __name__ == "__main__":
    main()
