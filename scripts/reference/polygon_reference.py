#!/usr/bin/env python3
"""Label masks as pdseg's labelme2seg/jingling2seg draw them (Pillow's ImageDraw.polygon with
outline=1, fill=1, later shapes over earlier ones), for test/data/annotations.test.ts.

    /usr/bin/python3 scripts/reference/polygon_reference.py > test/golden/polygon_reference.json
"""
import json

from PIL import Image, ImageDraw

W, H = 48, 36
SHAPES = [
    ('triangle', [[3.2, 4.7], [30.6, 8.1], [12.4, 30.9]]),
    ('concave', [[20, 2], [44, 2], [44, 30], [32, 30], [32, 12], [26, 12], [26, 30], [20, 30]]),
    ('thin', [[2, 33], [46, 31.4], [46.5, 32.2], [2.2, 34.5]]),
    ('square_int', [[5, 5], [9, 5], [9, 9], [5, 9]]),
    ('star', [[24, 1], [28, 13], [41, 13], [31, 21], [35, 34], [24, 26], [13, 34], [17, 21], [7, 13], [20, 13]]),
]


def mask(points):
    m = Image.new('L', (W, H), 0)
    ImageDraw.Draw(m).polygon([tuple(p) for p in points], outline=1, fill=1)
    return list(m.getdata())


def main():
    out = {'width': W, 'height': H, 'source': 'scripts/reference/polygon_reference.py (Pillow ImageDraw.polygon)', 'shapes': []}
    label = [0] * (W * H)
    for k, (name, pts) in enumerate(SHAPES):
        m = mask(pts)
        out['shapes'].append({'name': name, 'points': pts, 'mask': m})
        for i, v in enumerate(m):
            if v:
                label[i] = k + 1
    out['label'] = label  # all shapes drawn in order, class k+1 for shape k
    print(json.dumps(out))


if __name__ == '__main__':
    main()
