#!/usr/bin/env python3
"""BMP files written by Pillow (Debian's python3-pil), for test/data/image_io.test.ts.

    /usr/bin/python3 scripts/reference/bmp_reference.py test/data/bmp

Writes small BMPs in the layouts Pillow and OpenCV produce (24-bit RGB, 8-bit gray, 8-bit palette,
1-bit, 32-bit RGBA; odd widths so that rows carry padding) and `expected.json`: each file's pixels
as Pillow decodes them to RGB, row-major, and its size. seg reads BMP through its own decoder path
(bmp-ts), so this is an independent check of that path.
"""
import json
import os
import sys

from PIL import Image


def pattern(w, h):
    return [((x * 53 + y * 17) % 256, (x * 29 + y * 71 + 40) % 256, (x * 11 + y * 5 + 200) % 256) for y in range(h) for x in range(w)]


def main(out):
    os.makedirs(out, exist_ok=True)
    w, h = 7, 5
    rgb = Image.new('RGB', (w, h))
    rgb.putdata(pattern(w, h))
    images = {
        'rgb24.bmp': rgb,
        'gray8.bmp': rgb.convert('L'),
        'palette8.bmp': rgb.convert('P', palette=Image.ADAPTIVE, colors=16),
        'bilevel1.bmp': rgb.convert('L').point(lambda v: 255 if v > 120 else 0).convert('1'),
        'rgba32.bmp': rgb.convert('RGBA'),
    }
    expected = {}
    for name, im in images.items():
        path = os.path.join(out, name)
        im.save(path)
        back = Image.open(path).convert('RGB')
        expected[name] = {'width': back.width, 'height': back.height, 'mode': im.mode, 'rgb': [c for px in back.getdata() for c in px]}
    with open(os.path.join(out, 'expected.json'), 'w') as f:
        json.dump({'source': 'scripts/reference/bmp_reference.py (Pillow)', 'files': expected}, f)
        f.write('\n')


if __name__ == '__main__':
    main(sys.argv[1])
