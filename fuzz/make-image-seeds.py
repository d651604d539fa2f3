#!/usr/bin/python3
"""Small seed images for the decoders' fuzz targets (fuzz_png, fuzz_gif,
fuzz_webp, fuzz_heif, fuzz_bmp): every colour type, bit depth, frame
layout and compression the decoders have a path for, at 16 to 64 pixels
a side so that the fuzzer spends its time in the parsers.  Written once
(Debian's python3-pil, libheif-examples) and committed.

usage (from fuzz/): /usr/bin/python3 make-image-seeds.py
"""

import struct
import subprocess

from PIL import Image, ImageDraw


def picture(size, seed):
    im = Image.new('RGB', (size, size), (seed * 40 % 256, 80, 160))
    d = ImageDraw.Draw(im)
    for i in range(6):
        d.ellipse((i * 3 + seed, i * 2, size - i * 4, size - i * 3 - seed),
                  outline=((i * 70 + seed * 30) % 256, 200 - i * 20, i * 40))
    return im


def main():
    im = picture(32, 1)
    png = 'corpus/png/'
    im.save(png + 'rgb.png')
    im.convert('L').save(png + 'grey.png')
    im.convert('LA').save(png + 'grey-alpha.png')
    im.convert('RGBA').save(png + 'rgba.png')
    im.quantize(16).save(png + 'palette4.png', bits=4)
    im.quantize(200).save(png + 'palette.png')
    p = im.quantize(8)
    p.info['transparency'] = 3
    p.save(png + 'palette-trns.png', transparency=3)
    im.convert('1').save(png + 'bilevel.png')
    im.save(png + 'interlaced.png', interlace=1)
    im.convert('L').convert('I').point(lambda v: v * 257).save(png + 'grey16.png')

    # APNG: frames with alpha, blended over and disposed of every way
    rgba = [picture(32, s).convert('RGBA') for s in range(4)]
    for k, a in enumerate(rgba):
        a.putalpha(Image.linear_gradient('L').rotate(90 * k).resize((32, 32)))
    rgba[0].save(png + 'apng-over.png', save_all=True,
                 append_images=rgba[1:], duration=40, blend=1, disposal=0)
    rgba[0].save(png + 'apng-dispose.png', save_all=True,
                 append_images=rgba[1:], duration=[40, 50, 60, 70],
                 blend=[0, 1, 1, 0], disposal=[1, 2, 0, 2])
    rgb3 = [picture(32, s) for s in range(3)]
    rgb3[0].save(png + 'apng-default-apart.png', save_all=True,
                 append_images=rgb3[1:], default_image=True, duration=40)

    gif = 'corpus/gif/'
    im.quantize(64).save(gif + 'still.gif')
    frames = [picture(32, s).quantize(32) for s in range(4)]
    frames[0].save(gif + 'anim.gif', save_all=True,
                   append_images=frames[1:], duration=50, loop=0)
    frames[0].save(gif + 'anim-dispose2.gif', save_all=True,
                   append_images=frames[1:], duration=50, disposal=2)
    small = [picture(16, s).quantize(16) for s in range(3)]
    frames[0].save(gif + 'anim-offset.gif', save_all=True,
                   append_images=small, duration=50, disposal=3,
                   transparency=0)
    im.quantize(64).save(gif + 'interlaced.gif', interlace=True)

    webp = 'corpus/webp/'
    im.save(webp + 'lossy.webp', quality=50)
    im.save(webp + 'lossless.webp', lossless=True)
    im.convert('RGBA').save(webp + 'alpha.webp', quality=50)
    rgb = [picture(32, s) for s in range(3)]
    rgb[0].save(webp + 'anim.webp', save_all=True, append_images=rgb[1:],
                duration=50, quality=40)

    tif = 'corpus/tiff/'
    im.save(tif + 'rgb.tiff')
    im.save(tif + 'rgb-lzw.tiff', compression='tiff_lzw')
    im.convert('RGBA').save(tif + 'rgba-deflate.tiff',
                            compression='tiff_adobe_deflate')
    im.convert('L').save(tif + 'grey-packbits.tiff', compression='packbits')
    im.quantize(16).save(tif + 'palette.tiff')
    im.convert('1').save(tif + 'bilevel-g4.tiff', compression='group4')
    im.save(tif + 'jpeg.tiff', compression='jpeg')
    im.save(tif + 'big-endian.tiff', compression='tiff_lzw',
            tiffinfo={}, big_endian=True)

    heif = 'corpus/heif/'
    picture(64, 2).save('/tmp/seed64.png')
    subprocess.run(['heif-enc', '-q', '30', '/tmp/seed64.png', '-o',
                    heif + 'still.heic'], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(['heif-enc', '-A', '-q', '30', '/tmp/seed64.png', '-o',
                    heif + 'still.avif'], check=True,
                   stdout=subprocess.DEVNULL)

    bmp = 'corpus/bmp/'
    im.save(bmp + 'rgb24.bmp')
    im.quantize(200).save(bmp + 'palette8.bmp')
    im.convert('1').save(bmp + 'bilevel.bmp')
    im.convert('L').save(bmp + 'grey8.bmp')
    im.convert('RGBA').save(bmp + 'rgba32.bmp')
    # 16-bit 5-6-5 bit fields, which Pillow does not write
    w, h = im.size
    px = im.tobytes()
    rows = b''
    for y in reversed(range(h)):
        row = b''.join(struct.pack('<H', (px[3 * (y * w + x)] >> 3) << 11
                                   | (px[3 * (y * w + x) + 1] >> 2) << 5
                                   | px[3 * (y * w + x) + 2] >> 3)
                       for x in range(w))
        rows += row + b'\0' * (-len(row) % 4)
    off = 14 + 40 + 12
    open(bmp + 'rgb565.bmp', 'wb').write(
        b'BM' + struct.pack('<IHHI', off + len(rows), 0, 0, off)
        + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 16, 3, len(rows), 0, 0,
                      0, 0)
        + struct.pack('<III', 0xf800, 0x07e0, 0x001f) + rows)

    # RLE8 and RLE4, 8 x 4: runs, a literal run, end of line, and in the
    # .delta files a delta (which Pillow 9.4 misreads: it reads the
    # delta's two bytes twice, and reads an odd RLE4 literal run short,
    # so those files are not in the table)
    pal = b''.join(bytes([i * 16, 255 - i * 16, i * 8, 0]) for i in range(16))
    rle = (('rle8', 1, 8, [4, 1, 0, 4, 2, 3, 4, 5, 0, 0, 8, 7, 0, 0],
            [3, 9, 0, 0], [2, 5, 0, 3, 1, 2, 3, 0, 0, 0]),
           ('rle4', 2, 4, [4, 0x12, 0, 4, 0x34, 0x56, 0, 0, 8, 0x77, 0, 0],
            [3, 0x9a, 0, 3, 0x12, 0x30, 0, 0], [2, 5, 0, 4, 0x12, 0x34, 0, 0]))
    for name, comp, bpp, head, tail, rows in rle:
        for suffix, data in (('', head + rows + [3, 1, 0, 0, 0, 1]),
                             ('.delta', head + [0, 2, 2, 1] + tail
                              + [0, 1])):
            data = bytes(data)
            off = 14 + 40 + len(pal)
            open(bmp + name + suffix + '.bmp', 'wb').write(
                b'BM' + struct.pack('<IHHI', off + len(data), 0, 0, off)
                + struct.pack('<IiiHHIIiiII', 40, 8, 4, 1, bpp, comp,
                              len(data), 0, 0, 16, 0)
                + pal + data)

def pixels_table():
    """What Pillow, the vectors' decoder, sees in each seed (HEIF aside:
    Debian's Pillow has no HEIF plugin): test_media checks our pixels."""
    import csv
    import glob
    import hashlib
    out = csv.writer(open('seed-pixels.csv', 'w', newline=''),
                     lineterminator='\n')
    out.writerow(['file', 'frame', 'pdq', 'format', 'rgb_sha256'])
    import re
    for f in sorted(glob.glob('corpus/*/*')):
        if f.startswith('corpus/heif/') or not f.split('/')[1] in (
                'png', 'gif', 'webp', 'bmp', 'tiff'):
            continue
        if re.fullmatch(r'[0-9a-f]{40}', f.split('/')[-1]):
            continue        # what the fuzzer added, not a seed
        im = Image.open(f)
        if im.mode in ('I', 'I;16') or '.delta.' in f:
            # Pillow clips 16-bit grey to 255 (the rule is the high
            # byte); Pillow misreads RLE deltas (see above)
            continue
        for i in range(getattr(im, 'n_frames', 1)):
            im.seek(i)
            rgb = im.convert('RGB').tobytes()
            out.writerow([f, i, '', im.format,
                          hashlib.sha256(rgb).hexdigest()])


main()
pixels_table()
