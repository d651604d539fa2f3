#!/usr/bin/python3
"""Seeds for fuzz_pdq_index: well-formed index blocks, chunks and video
records around the three hashes and the video the target's set lists
(0x11.., 0x22.., 0x33.., video "v1"), so that the fuzzer starts from
inputs that reach the full comparison, the entries and the video rule.
Layouts: hashdb/hdb_pdq_ix.h (blocks), hashdb/hdb_schema.h (records).

usage (from fuzz/): /usr/bin/python3 make-index-seeds.py
"""

import os
import struct

FRAMES = [bytes([0x11 * (i + 1)]) * 32 for i in range(3)]


def block(subs, nseg=1):
    """subs: for each of the 4 sub-buckets, (filter, id) records, filed
    by id segment (id >> 24)"""
    offs, filters, ids = [], b'', b''
    n = 0
    for recs in subs:
        for g in range(nseg):
            offs.append(n)
            for f, i in recs:
                if i >> 24 == g:
                    filters += struct.pack('<H', f)
                    ids += struct.pack('<I', i)[:3]
                    n += 1
    offs.append(n)
    return struct.pack('<I', nseg) + struct.pack('<%dI' % len(offs), *offs) \
        + filters + ids


def video(frames, name=b'v1', source_id=1):
    rec = struct.pack('>I', source_id) + struct.pack(
        '<I8sIIII', 1700000000, b'', 1, len(frames), len(name), 0)
    return rec + b''.join(frames) + name


def seed(path, query, table, blk, chunk, vid):
    with open(path, 'wb') as f:
        f.write(query + bytes([table]))
        f.write(struct.pack('<H', len(blk)) + blk)
        f.write(struct.pack('<H', len(chunk)) + chunk)
        f.write(vid)


def main():
    d = 'corpus/pdq_index/'
    os.makedirs(d, exist_ok=True)
    chunk = b''.join(FRAMES)
    word = 0x1111
    sub = word & 3
    recs = [[], [], [], []]
    recs[sub] = [(0x1111, 0), (0x2222, 1), (0x1111, 2)]
    seed(d + 'listed', FRAMES[0], 0, block(recs), chunk, video(FRAMES[:1]))
    # a query a few bits off, found through table 5
    near = bytearray(FRAMES[0])
    near[0] ^= 0x07
    near[20] ^= 0x30
    seed(d + 'near', bytes(near), 5, block(recs), chunk,
         video(FRAMES[:1]))
    # two id segments, the record in the second (past 2^24 ids)
    recs2 = [[], [], [], []]
    recs2[sub] = [(0x1111, 1), (0x1111, (1 << 24) | 2)]
    seed(d + 'segments', FRAMES[0], 3, block(recs2, 2), chunk,
         video(FRAMES))
    # the store without the ids the block names
    seed(d + 'short-chunk', FRAMES[0], 0, block(recs), chunk[:32],
         video(FRAMES[:1]))
    # a video record whose frames the rule cannot all reach
    seed(d + 'video-only', FRAMES[2], 9, b'', chunk,
         video(FRAMES + [b'\x5a' * 32], b'a-longer-video-name'))


main()
