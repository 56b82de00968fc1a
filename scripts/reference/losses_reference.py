#!/usr/bin/env python3
"""Reference values and gradients for seg's five losses -> test/golden/losses_reference.json.

Run once with Debian's PyTorch (python3-torch 1.13) and the authors' Lovász implementation, which
is NOT part of this repository (MIT, github.com/bermanmaxim/LovaszSoftmax, pytorch/lovasz_losses.py):

    curl -o /tmp/lovasz_losses.py \
      https://raw.githubusercontent.com/bermanmaxim/LovaszSoftmax/master/pytorch/lovasz_losses.py
    /usr/bin/python3 scripts/reference/losses_reference.py /tmp/lovasz_losses.py

Sources of the expected values, per case (`source` in the JSON):
  authors       the authors' lovasz_hinge / lovasz_softmax, run in float64. Two mechanical changes
                are made to their text when it is loaded (asserted below): `.float()` -> `.double()`
                (their lovasz_grad casts to float32, which makes g = J_i - J_{i-1} lose ~P*6e-8 to
                cancellation, and torch.dot then refuses float64·float32), and `torch.sort(` -> a
                wrapper adding `stable=True`, so that tied errors keep pixel order, the tie-break
                seg uses (an unstable sort gives another, equally valid, subgradient).
  authors-flat  where their wrapper crashes or averages differently from seg, their *_flat
                function applied to the right pixels: one valid pixel (flatten_probas squeezes
                [1, C] to [C] and lovasz_softmax_flat then fails), and per-image mode with an
                image that has no valid pixel (seg averages over the images that have some; the
                authors' mean counts such an image as 0, or breaks for Lovász-Softmax).
  torch         torch.nn.functional.binary_cross_entropy_with_logits / cross_entropy (bce, softmax).
  hand          a hand-written formula in torch (dice: seg's smoothed per-image dice), or 0 for a
                batch whose pixels are all ignored (torch's mean over no pixels is NaN).

Logits are drawn in float32 with fixed seeds (so that tfjs gets exactly the same inputs), then
converted to float64 for the reference. Values and gradients (w.r.t. the logits) are stored in
NHWC order, as seg's tests use them; case `layout_nchw` also stores the NCHW arrays.
"""
import json
import os
import sys
import types
import warnings

import numpy as np
import torch
import torch.nn.functional as F

IGNORE = 255


def load_authors(path):
    with open(path, encoding='utf-8') as f:
        src = f.read()
    n_float = src.count('.float()')
    n_sort = src.count('torch.sort(')
    if n_float < 4 or n_sort != 2 or 'def lovasz_grad' not in src:
        raise SystemExit(f'{path} does not look like the authors\' pytorch/lovasz_losses.py '
                         f'(.float() x{n_float}, torch.sort x{n_sort})')
    src = src.replace('.float()', '.double()').replace('torch.sort(', '_stable_sort(')
    mod = types.ModuleType('lovasz_losses_float64')
    mod.__dict__['_stable_sort'] = lambda x, dim=-1, descending=False: torch.sort(x, dim=dim, descending=descending, stable=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', SyntaxWarning)  # their `classes is 'present'`
        exec(compile(src, path, 'exec'), mod.__dict__)
    return mod


# ---------------------------------------------------------------- inputs

def randn32(rng, shape, scale=2.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def labels_of(rng, shape, K, p_ignore=0.0):
    lab = rng.integers(0, K, size=shape).astype(np.int64)
    if p_ignore > 0:
        lab[rng.random(shape) < p_ignore] = IGNORE
    return lab


def nchw(x):  # NHWC -> NCHW
    return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


def nhwc(x):  # NCHW -> NHWC
    return np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))


# ---------------------------------------------------------------- references

def hinge_authors(L, logits, labels, per_image, ignore):
    x = torch.tensor(logits[..., 0].astype(np.float64), requires_grad=True)
    loss = L.lovasz_hinge(x, torch.tensor(labels), per_image=per_image, ignore=ignore)
    loss.backward()
    return float(loss), x.grad.numpy()[..., None]


def hinge_per_image_flat(L, logits, labels, ignore):
    """Per-image Lovász hinge averaged over the images with valid pixels, from lovasz_hinge_flat."""
    x = torch.tensor(logits[..., 0].astype(np.float64), requires_grad=True)
    lab = torch.tensor(labels)
    terms = []
    for n in range(x.shape[0]):
        valid = lab[n] != ignore
        if valid.sum() == 0:
            continue
        terms.append(L.lovasz_hinge_flat(x[n][valid], lab[n][valid]))
    loss = sum(terms) / len(terms)
    loss.backward()
    return float(loss), x.grad.numpy()[..., None]


def softmax_lovasz_authors(L, logits, labels, classes, per_image, ignore):
    z = torch.tensor(nchw(logits).astype(np.float64), requires_grad=True)
    p = F.softmax(z, dim=1)
    cls = 'present' if classes == 'present' else 'all'  # literals: their code tests `classes is 'present'`
    loss = L.lovasz_softmax(p, torch.tensor(labels), classes=cls, per_image=per_image, ignore=ignore)
    loss.backward()
    return float(loss), nhwc(z.grad.numpy())


def softmax_lovasz_flat(L, logits, labels, classes, per_image, ignore):
    """lovasz_softmax_flat on the valid pixels of each set (batch or image), [V, C] kept 2-D."""
    z = torch.tensor(nchw(logits).astype(np.float64), requires_grad=True)
    p = F.softmax(z, dim=1).permute(0, 2, 3, 1)  # N, H, W, C
    lab = torch.tensor(labels)
    cls = 'present' if classes == 'present' else 'all'
    sets = [(p[n], lab[n]) for n in range(p.shape[0])] if per_image else [(p, lab)]
    terms = []
    for ps, ls in sets:
        valid = ls != ignore
        if valid.sum() == 0:
            continue
        terms.append(L.lovasz_softmax_flat(ps[valid].reshape(-1, p.shape[-1]), ls[valid], classes=cls))
    loss = sum(terms) / len(terms)
    loss.backward()
    return float(loss), nhwc(z.grad.numpy())


def bce_torch(logits, labels, ignore):
    x = torch.tensor(logits[..., 0].astype(np.float64), requires_grad=True)
    lab = torch.tensor(labels)
    valid = lab != ignore
    loss = F.binary_cross_entropy_with_logits(x[valid], lab[valid].double(), reduction='mean')
    loss.backward()
    return float(loss), x.grad.numpy()[..., None]


def dice_hand(logits, labels, ignore, smooth=1.0):
    x = torch.tensor(logits[..., 0].astype(np.float64), requires_grad=True)
    lab = torch.tensor(labels)
    valid = (lab != ignore).double()
    y = (lab == 1).double() * valid
    p = torch.sigmoid(x) * valid
    terms = []
    for n in range(x.shape[0]):
        if valid[n].sum() == 0:
            continue
        terms.append(1 - (2 * (p[n] * y[n]).sum() + smooth) / (p[n].sum() + y[n].sum() + smooth))
    loss = sum(terms) / len(terms)
    loss.backward()
    return float(loss), x.grad.numpy()[..., None]


def dynamic_weights(labels, C, ignore):
    valid = labels[labels != ignore]
    V = valid.size
    w = np.array([V / (np.sum(valid == c) + 1) for c in range(C)], dtype=np.float64)
    return w * C / w.sum()


def softmax_torch(logits, labels, ignore, weights):
    z = torch.tensor(nchw(logits).astype(np.float64), requires_grad=True)
    lab = torch.tensor(labels)
    V = int((lab != ignore).sum())
    w = None if weights is None else torch.tensor(np.asarray(weights, dtype=np.float64))
    per_pixel = F.cross_entropy(z, lab, weight=w, ignore_index=ignore, reduction='none')
    loss = per_pixel.sum() / V
    loss.backward()
    return float(loss), nhwc(z.grad.numpy())


# ---------------------------------------------------------------- cases

def flat(a):
    return [float(v) for v in np.asarray(a).reshape(-1)]


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    L = load_authors(sys.argv[1])
    out_path = sys.argv[2] if len(sys.argv) == 3 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'golden', 'losses_reference.json')
    torch.set_default_dtype(torch.float64)
    cases = []

    def add(name, loss, logits, labels, value, grad, source, note, options=None, **extra):
        assert np.isfinite(value) and np.all(np.isfinite(grad)), name
        case = {
            'name': name, 'loss': loss, 'source': source, 'note': note, 'options': options or {},
            'shape': list(logits.shape), 'logits': flat(logits), 'labels': [int(v) for v in labels.reshape(-1)],
            'value': value, 'grad': flat(grad),
        }
        case.update(extra)
        cases.append(case)

    # ---- lovasz_hinge_loss
    rng = np.random.default_rng(1)
    x = randn32(rng, (2, 5, 6, 1)); y = labels_of(rng, (2, 5, 6), 2, 0.2)
    add('hinge_batch', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, False, IGNORE), 'authors',
        'pooled over the batch (pdseg), 20% ignored')
    add('hinge_per_image', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, True, IGNORE), 'authors',
        'per image, then averaged', {'perImage': True})

    rng = np.random.default_rng(2)
    x = randn32(rng, (2, 24, 24, 1), 1.5); y = labels_of(rng, (2, 24, 24), 2, 0.1)
    add('hinge_medium', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, False, IGNORE), 'authors', '2x24x24')
    add('hinge_medium_per_image', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, True, IGNORE), 'authors',
        '2x24x24 per image', {'perImage': True})

    rng = np.random.default_rng(3)
    x = randn32(rng, (2, 4, 5, 1)); y = labels_of(rng, (2, 4, 5), 2, 0.0)
    y[1] = 0  # image 1: a road tile without road
    add('hinge_image_without_foreground', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, True, IGNORE), 'authors',
        'image 1 has no foreground: its g is (1, 0, ...), the largest error gets gradient +1', {'perImage': True})
    y0 = np.zeros_like(y); y0[0, 0, :2] = IGNORE
    add('hinge_no_foreground', 'lovasz_hinge_loss', x, y0, *hinge_authors(L, x, y0, False, IGNORE), 'authors',
        'no foreground in the batch')
    y1 = np.ones_like(y); y1[1, 2, 3] = IGNORE
    add('hinge_only_foreground', 'lovasz_hinge_loss', x, y1, *hinge_authors(L, x, y1, False, IGNORE), 'authors',
        'only foreground: g = 1/G everywhere')

    yi = np.full_like(y, IGNORE)
    add('hinge_all_ignored', 'lovasz_hinge_loss', x, yi, *hinge_authors(L, x, yi, False, IGNORE), 'authors',
        'every pixel ignored: loss 0, gradient 0')
    y2 = y.copy(); y2[1] = IGNORE
    add('hinge_per_image_ignored_image', 'lovasz_hinge_loss', x, y2, *hinge_per_image_flat(L, x, y2, IGNORE), 'authors-flat',
        'image 1 fully ignored: seg averages over image 0 only (the authors count image 1 as a 0 in the mean)',
        {'perImage': True})
    y3 = np.full_like(y, IGNORE); y3[1, 3, 2] = 1
    add('hinge_one_valid_pixel', 'lovasz_hinge_loss', x, y3, *hinge_authors(L, x, y3, False, IGNORE), 'authors',
        'one valid pixel')

    rng = np.random.default_rng(4)
    levels = np.array([-1.5, -0.5, 0.0, 0.5, 1.5], dtype=np.float32)
    x = levels[rng.integers(0, 5, size=(2, 4, 4, 1))]; y = labels_of(rng, (2, 4, 4), 2, 0.1)
    add('hinge_ties', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, False, IGNORE), 'authors',
        'logits from 5 levels: many equal errors, across labels too (stable tie-break: pixel order)')

    rng = np.random.default_rng(5)
    x = randn32(rng, (1, 4, 6, 1)); y = labels_of(rng, (1, 4, 6), 2, 0.1)
    x[0, 0, :3, 0] = [1e4, -1e4, 1e4]; x[0, 2, 1:4, 0] = [-1e4, 1e4, -1e4]
    add('hinge_extreme', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, False, IGNORE), 'authors',
        'logits of +-1e4 among ordinary ones')

    rng = np.random.default_rng(6)
    x = randn32(rng, (2, 3, 4, 1)); y = labels_of(rng, (2, 3, 4), 2, 0.0); y[0, 0, :] = 9
    add('hinge_ignore_index_9', 'lovasz_hinge_loss', x, y, *hinge_authors(L, x, y, False, 9), 'authors',
        'ignoreIndex 9', {'ignoreIndex': 9})

    # ---- lovasz_softmax_loss
    rng = np.random.default_rng(11)
    x = randn32(rng, (2, 4, 5, 4)); y = labels_of(rng, (2, 4, 5), 3, 0.2)  # class 3 absent
    add('lovasz_softmax_batch', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'present', False, IGNORE),
        'authors', 'pooled, classes present (class 3 absent)')
    add('lovasz_softmax_all', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'all', False, IGNORE),
        'authors', "classes 'all': absent class 3 contributes its largest probability", {'classes': 'all'})
    add('lovasz_softmax_per_image', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'present', True, IGNORE),
        'authors', 'per image, classes present in each image', {'perImage': True})
    add('lovasz_softmax_per_image_all', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'all', True, IGNORE),
        'authors', "per image, classes 'all'", {'perImage': True, 'classes': 'all'})

    rng = np.random.default_rng(12)
    x = randn32(rng, (2, 12, 12, 5), 1.5); y = labels_of(rng, (2, 12, 12), 5, 0.1)
    add('lovasz_softmax_medium', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'present', False, IGNORE),
        'authors', '2x12x12x5')
    v, g = softmax_lovasz_authors(L, x, y, 'present', False, IGNORE)
    add('layout_nchw', 'lovasz_softmax_loss', x, y, v, g, 'authors',
        'the same case with NCHW copies: the test transposes them to NHWC',
        logitsNCHW=flat(nchw(x)), gradNCHW=flat(nchw(g)))

    rng = np.random.default_rng(13)
    x = randn32(rng, (2, 3, 4, 3)); y = np.full((2, 3, 4), 2, dtype=np.int64); y[0, 1, 1] = IGNORE
    add('lovasz_softmax_one_class', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'present', False, IGNORE),
        'authors', 'one class present (2): only loss_2, g = 1/G')
    add('lovasz_softmax_one_class_all', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'all', False, IGNORE),
        'authors', "one class present, classes 'all'", {'classes': 'all'})
    y2 = labels_of(rng, (2, 3, 4), 3, 0.0); y2[1] = 0
    add('lovasz_softmax_per_image_single_class_image', 'lovasz_softmax_loss', x, y2,
        *softmax_lovasz_authors(L, x, y2, 'present', True, IGNORE), 'authors', 'image 1 is all class 0 (background only)',
        {'perImage': True})
    y3 = y2.copy(); y3[0] = IGNORE
    add('lovasz_softmax_per_image_ignored_image', 'lovasz_softmax_loss', x, y3,
        *softmax_lovasz_flat(L, x, y3, 'present', True, IGNORE), 'authors-flat',
        'image 0 fully ignored: seg averages over image 1 only (the authors\' per-image mean breaks on it)',
        {'perImage': True})
    y4 = np.full((2, 3, 4), IGNORE, dtype=np.int64); y4[0, 2, 1] = 1
    add('lovasz_softmax_one_valid_pixel', 'lovasz_softmax_loss', x, y4,
        *softmax_lovasz_flat(L, x, y4, 'present', False, IGNORE), 'authors-flat',
        'one valid pixel: loss = 1 - p_y (the authors\' flatten_probas squeezes [1, C] to [C] and crashes)')
    add('lovasz_softmax_one_valid_pixel_all', 'lovasz_softmax_loss', x, y4,
        *softmax_lovasz_flat(L, x, y4, 'all', False, IGNORE), 'authors-flat',
        "one valid pixel, classes 'all': loss = (1 - p_y + sum_{c != y} p_c)/C", {'classes': 'all'})

    rng = np.random.default_rng(14)
    base = randn32(rng, (4, 3))
    x = base[rng.integers(0, 4, size=(2, 4, 4))]; y = labels_of(rng, (2, 4, 4), 3, 0.1)
    add('lovasz_softmax_ties', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'present', False, IGNORE),
        'authors', '4 distinct logit vectors: many equal errors (stable tie-break: pixel order)')

    rng = np.random.default_rng(15)
    x = randn32(rng, (1, 4, 5, 3)); y = labels_of(rng, (1, 4, 5), 3, 0.1)
    x[0, 0, 0] = [1e4, -1e4, 0]; x[0, 1, 2] = [-1e4, 1e4, 1e4]; x[0, 3, 4] = [0, 0, 1e4]; x[0, 2, 2] = [-1e4, -1e4, -1e4]
    add('lovasz_softmax_extreme', 'lovasz_softmax_loss', x, y, *softmax_lovasz_authors(L, x, y, 'present', False, IGNORE),
        'authors', 'logits of +-1e4: saturated probabilities (errors exactly 0 or 1)')

    # ---- bce_loss
    rng = np.random.default_rng(21)
    x = randn32(rng, (2, 5, 6, 1)); y = labels_of(rng, (2, 5, 6), 2, 0.2)
    add('bce_batch', 'bce_loss', x, y, *bce_torch(x, y, IGNORE), 'torch', 'mean over valid pixels')
    xe = x.copy(); xe[0, 0, :4, 0] = [1e4, -1e4, 1e4, -1e4]; xe[1, 4, :2, 0] = [30.0, -30.0]
    add('bce_extreme', 'bce_loss', xe, y, *bce_torch(xe, y, IGNORE), 'torch', 'logits of +-1e4 and +-30')
    y1 = np.full_like(y, IGNORE); y1[1, 1, 1] = 0
    add('bce_one_valid_pixel', 'bce_loss', x, y1, *bce_torch(x, y1, IGNORE), 'torch', 'one valid pixel')
    add('bce_all_ignored', 'bce_loss', x, np.full_like(y, IGNORE), 0.0, np.zeros_like(x), 'hand',
        'every pixel ignored: 0 (torch: mean of nothing = NaN)')

    # ---- dice_loss
    rng = np.random.default_rng(31)
    x = randn32(rng, (3, 4, 5, 1)); y = labels_of(rng, (3, 4, 5), 2, 0.15)
    add('dice_batch', 'dice_loss', x, y, *dice_hand(x, y, IGNORE), 'hand', 'per-image smoothed dice, averaged')
    y2 = y.copy(); y2[1][y2[1] == 1] = 0; y2[2] = IGNORE
    add('dice_empty_images', 'dice_loss', x, y2, *dice_hand(x, y2, IGNORE), 'hand',
        'image 1 without foreground (still a gradient pushing p down), image 2 fully ignored (left out of the mean)')
    xe = x.copy(); xe[0, 0, :3, 0] = [1e4, -1e4, 1e4]
    add('dice_extreme', 'dice_loss', xe, y, *dice_hand(xe, y, IGNORE), 'hand', 'logits of +-1e4')
    add('dice_all_ignored', 'dice_loss', x, np.full_like(y, IGNORE), 0.0, np.zeros_like(x), 'hand', 'every pixel ignored: 0')

    # ---- softmax_loss
    rng = np.random.default_rng(41)
    x = randn32(rng, (2, 4, 5, 4)); y = labels_of(rng, (2, 4, 5), 4, 0.2)
    add('softmax_batch', 'softmax_loss', x, y, *softmax_torch(x, y, IGNORE, None), 'torch', 'unweighted, mean over valid pixels')
    w = [0.5, 2.0, 1.0, 0.25]
    add('softmax_weighted', 'softmax_loss', x, y, *softmax_torch(x, y, IGNORE, w), 'torch',
        'static class weights; divided by V (pdseg), not by the sum of weights', {'classWeights': w})
    wd = dynamic_weights(y, 4, IGNORE)
    add('softmax_dynamic', 'softmax_loss', x, y, *softmax_torch(x, y, IGNORE, wd), 'torch',
        "'dynamic' weights V/(count_c + 1), normalised to sum C, over valid pixels only",
        {'classWeights': 'dynamic'}, dynamicWeights=[float(v) for v in wd])
    xe = x.copy(); xe[0, 0, 0] = [1e4, -1e4, 0, 0]; xe[1, 3, 4] = [-1e4, -1e4, -1e4, 1e4]; xe[1, 1, 1] = [1e4, 1e4, -1e4, 0]
    add('softmax_extreme', 'softmax_loss', xe, y, *softmax_torch(xe, y, IGNORE, None), 'torch', 'logits of +-1e4')
    add('softmax_all_ignored', 'softmax_loss', x, np.full_like(y, IGNORE), 0.0, np.zeros_like(x), 'hand', 'every pixel ignored: 0')

    # ---- the same inputs under several losses, for the weighted sums of buildLoss
    rng = np.random.default_rng(51)
    x = randn32(rng, (2, 6, 7, 1)); y = labels_of(rng, (2, 6, 7), 2, 0.1)
    terms = {'lovasz_hinge_loss': hinge_authors(L, x, y, False, IGNORE), 'bce_loss': bce_torch(x, y, IGNORE),
             'dice_loss': dice_hand(x, y, IGNORE)}
    add('mix_binary', 'mix', x, y, 0.0, np.zeros_like(x), 'authors+torch+hand', 'per-term values for weighted sums',
        terms={k: {'value': v, 'grad': flat(g)} for k, (v, g) in terms.items()})
    x = randn32(rng, (2, 5, 4, 3)); y = labels_of(rng, (2, 5, 4), 3, 0.1)
    terms = {'lovasz_softmax_loss': softmax_lovasz_authors(L, x, y, 'present', False, IGNORE),
             'softmax_loss': softmax_torch(x, y, IGNORE, None)}
    add('mix_multi', 'mix', x, y, 0.0, np.zeros_like(x), 'authors+torch', 'per-term values for weighted sums',
        terms={k: {'value': v, 'grad': flat(g)} for k, (v, g) in terms.items()})

    doc = {
        'generator': 'scripts/reference/losses_reference.py',
        'reference': 'github.com/bermanmaxim/LovaszSoftmax pytorch/lovasz_losses.py (float64, stable sort); '
                     'torch.nn.functional for bce/softmax; hand-written dice',
        'torch': torch.__version__,
        'ignoreIndexDefault': IGNORE,
        'layout': 'logits/grad flattened NHWC [N, H, W, C]; labels flattened [N, H, W]',
        'cases': cases,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    os.replace(tmp, out_path)
    print(f'wrote {len(cases)} cases to {out_path}')


if __name__ == '__main__':
    main()
