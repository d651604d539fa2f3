#!/usr/bin/python3
"""Test files, written once and committed (Debian's python3-pil, webp,
libheif-examples; the two unrelated photos from
../shared/pdq-vectors-formats/, not copied whole).

images/derived/: files with the same pixels as a reference-hashed vector, in encodings
the copied vectors do not cover: written once (Debian's python3-pil,
webp), committed, and listed in expected.csv with their source's PDQ
hash and pixel SHA-256.  Each derived file is decoded again by Pillow,
the vectors' own decoder, and must give its source's pixels exactly.

uploads/: what the end-to-end tests upload: the listed stand-in
(square-256x256) converted to GIF (256 colours), HEIC and AVIF; an
animated GIF whose third frame is it; unrelated images that must pass.

usage (from this directory): /usr/bin/python3 make-derived.py [SHARED]
"""

import csv
import hashlib
import os
import struct
import subprocess
import sys

from PIL import Image

ROWS = list(csv.DictReader(open('expected.csv')))
FIELDS = list(ROWS[0].keys())
BY_FILE = {(r['file'], r['frame']): r for r in ROWS}
OUT = 'images/derived/'


def rgb_sha(im):
    return hashlib.sha256(im.convert('RGB').tobytes()).hexdigest()


def rle8(im):
    """A BMP with RLE8 pixels (Pillow reads RLE8 but does not write it)."""
    w, h = im.size
    px = im.tobytes()
    data = bytearray()
    for y in reversed(range(h)):
        row = px[y * w:(y + 1) * w]
        x = 0
        while x < w:
            n = 1
            while x + n < w and n < 255 and row[x + n] == row[x]:
                n += 1
            if n >= 3 or w - x < 3:
                data += bytes([n, row[x]])
                x += n
                continue
            # a literal run: up to the next run of three
            n = 3
            while x + n < w and n < 255 and not (
                    x + n + 2 < w and row[x + n] == row[x + n + 1] == row[x + n + 2]):
                n += 1
            data += bytes([0, n]) + row[x:x + n] + (b'\0' if n & 1 else b'')
            x += n
        data += b'\0\0'
    data += b'\0\1'
    pal = im.getpalette()[:768]
    pal += [0] * (768 - len(pal))
    palette = b''.join(bytes([pal[3 * i + 2], pal[3 * i + 1], pal[3 * i], 0])
                       for i in range(256))
    off = 14 + 40 + len(palette)
    return (b'BM' + struct.pack('<IHHI', off + len(data), 0, 0, off)
            + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 8, 1, len(data),
                          2835, 2835, 256, 0)
            + palette + bytes(data))


def bmp(im, bpp, top_down=False):
    """24- or 32-bit (B, G, R, x) BMP, bottom-up or top-down."""
    w, h = im.size
    rgb = im.convert('RGB').tobytes()
    stride = (w * bpp // 8 + 3) & ~3
    rows = []
    for y in range(h):
        r = bytearray()
        for x in range(w):
            p = rgb[3 * (y * w + x):3 * (y * w + x) + 3]
            r += bytes([p[2], p[1], p[0]]) + (b'\x7f' if bpp == 32 else b'')
        rows.append(bytes(r) + b'\0' * (stride - len(r)))
    if not top_down:
        rows.reverse()
    data = b''.join(rows)
    off = 14 + 40
    return (b'BM' + struct.pack('<IHHI', off + len(data), 0, 0, off)
            + struct.pack('<IiiHHIIiiII', 40, w, -h if top_down else h, 1,
                          bpp, 0, len(data), 2835, 2835, 0, 0)
            + data)


def derive(name, source, frame, make, note):
    src = BY_FILE[(source, frame)]
    path = OUT + name
    data = make()
    if data is not None:
        open(path, 'wb').write(data)
    got = Image.open(path)
    assert rgb_sha(got) == src['rgb_sha256'], name
    row = dict(src)
    row.update(file=path, frame='0', format=got.format, mode=got.mode,
               animated='0', n_frames='1', subtype=note,
               sha256=hashlib.sha256(open(path, 'rb').read()).hexdigest(),
               origin='derived from ' + source, note='same pixels')
    return row


def main():
    os.makedirs(OUT, exist_ok=True)
    sq = 'images/bridge-mods/square-256x256.png'
    im = Image.open(sq)
    first = Image.open('images/anim/anim1.gif')      # frame 0, mode P
    rows = []

    def save(name, **kw):
        def f():
            target = kw.pop('image', im)
            target.save(OUT + name, **kw)
        return f

    rows.append(derive('square.interlaced.png', sq, '0',
                       save('square.interlaced.png', optimize=False,
                            interlace=1), 'rgb/8bit+interlaced'))

    def rgb16():
        a = im.convert('RGB').tobytes()
        w, h = im.size
        raw = b''.join(b'\0' + b''.join(bytes([v, v]) for v in a[3 * w * y:3 * w * (y + 1)])
                       for y in range(h))
        import zlib

        def chunk(t, d):
            return (struct.pack('>I', len(d)) + t + d
                    + struct.pack('>I', zlib.crc32(t + d)))
        return (b'\x89PNG\r\n\x1a\n'
                + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 16, 2, 0, 0, 0))
                + chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b''))
    rows.append(derive('square.rgb16.png', sq, '0', rgb16, 'rgb/16bit'))

    def rgba():
        a = im.convert('RGBA')
        # alpha from a pattern: a port that composites changes the hash
        a.putalpha(Image.linear_gradient('L').resize(im.size))
        a.save(OUT + 'square.rgba.png')
    rows.append(derive('square.rgba.png', sq, '0', rgba, 'rgba/8bit'))

    rows.append(derive('square.bmp', sq, '0', lambda: bmp(im, 24),
                       'bmp/24bpp'))
    rows.append(derive('square.lzw.tiff', sq, '0',
                       save('square.lzw.tiff', compression='tiff_lzw'),
                       'tiff/compression=tiff_lzw'))
    rows.append(derive('square.topdown32.bmp', sq, '0',
                       lambda: bmp(im, 32, True), 'bmp/32bpp/top-down'))

    def lossless_webp():
        subprocess.run(['cwebp', '-quiet', '-lossless', '-exact', sq, '-o',
                        OUT + 'square.lossless.webp'], check=True)
    rows.append(derive('square.lossless.webp', sq, '0', lossless_webp,
                       'lossless'))

    g = 'images/anim/anim1.gif'
    rows.append(derive('anim1-frame0.P.bmp', g, '0',
                       save('anim1-frame0.P.bmp', image=first),
                       'bmp/8bpp'))
    rows.append(derive('anim1-frame0.rle8.bmp', g, '0', lambda: rle8(first),
                       'bmp/8bpp/compression=RLE8'))
    rows.append(derive('anim1-frame0.P.png', g, '0',
                       save('anim1-frame0.P.png', image=first),
                       'palette/8bit'))
    rows.append(derive('anim1-frame0.gif', g, '0',
                       save('anim1-frame0.gif', image=first), 'gif'))

    # an APNG of anim1.gif's four composited frames (Pillow writes the
    # frames as sub-rectangles blended over the last: the compositing is
    # what is tested), each frame with the GIF's reference hash
    a = Image.open(g)
    frames = []
    for i in range(a.n_frames):
        a.seek(i)
        frames.append(a.convert('RGBA'))
    frames[0].save(OUT + 'anim1.apng.png', save_all=True,
                   append_images=frames[1:], duration=100, loop=0)
    got = Image.open(OUT + 'anim1.apng.png')
    for i in range(got.n_frames):
        got.seek(i)
        src = BY_FILE[(g, str(i))]
        assert rgb_sha(got) == src['rgb_sha256'], i
        row = dict(src)
        row.update(file=OUT + 'anim1.apng.png', format='PNG',
                   subtype='apng', origin='derived from ' + g,
                   note='same pixels',
                   sha256=hashlib.sha256(
                       open(OUT + 'anim1.apng.png', 'rb').read()).hexdigest())
        rows.append(row)

    kept = [r for r in ROWS if not r['file'].startswith(OUT)]
    w = csv.DictWriter(open('expected.csv', 'w', newline=''), FIELDS,
                       lineterminator='\n')
    w.writeheader()
    w.writerows(kept + rows)


def uploads(shared):
    sq = Image.open('images/bridge-mods/square-256x256.png').convert('RGB')
    sq.quantize(256).save('uploads/square.256.gif')
    for kind, flags in (('heic', []), ('avif', ['-A'])):
        subprocess.run(['heif-enc', '-q', '80'] + flags
                       + ['images/bridge-mods/square-256x256.png', '-o',
                          'uploads/square.' + kind],
                       check=True, stdout=subprocess.DEVNULL)
    pen = Image.open(shared + '/images/pen-and-coaster.png').convert('RGB')
    pen = pen.resize((256, 256))
    c = Image.open(shared + '/images/c.png').convert('RGB').resize((256, 256))
    a = Image.open('images/anim/anim1.gif')
    a.seek(1)
    a1 = a.convert('RGB').resize((256, 256))
    frames = [pen, c, sq, a1]
    frames[0].save('uploads/third-frame.gif', save_all=True,
                   append_images=frames[1:], duration=100, loop=0)
    frames[0].save('uploads/third-frame.apng.png', save_all=True,
                   append_images=frames[1:], duration=100, loop=0)
    frames = [pen, c, a1, c.transpose(Image.ROTATE_90)]
    frames[0].save('uploads/clean-anim.gif', save_all=True,
                   append_images=frames[1:], duration=100, loop=0)
    pen.save('uploads/clean.png')
    c.save('uploads/clean.q80.webp', quality=80)


main()
uploads(sys.argv[1] if len(sys.argv) > 1
        else '../../../../shared/pdq-vectors-formats')
