#!/usr/bin/env python3
"""A PyTorch trainer of a seg recipe, for comparisons (docs/results.md, the learning-parity runs).

    GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=67108864 \\
      /usr/bin/python3 bench/peer_train.py --cfg configs/experiments/roads_softmax.yaml --seed 1 [KEY VALUE ...]

Debian's python3-torch (+ python3-yaml, python3-pil). It reads seg's YAML (pdseg format) and file
lists and trains the same recipe in PyTorch, float32:

  model      seg's DeepLabv3+/MobileNetV2 (scripts/reference/network_reference.py's Net, the network
             the equivalence test checks against seg) with dropout 0.1 after the ASPP projection;
  init       seg's (Paddle's default conv init): N(0, 2/(k*k*C_in)) untruncated, depthwise too (all C
             input channels counted), head kernel N(0, 0.01) cut at +-0.02, BN 1/0,
             logit bias at the class prior (MODEL.LOGIT_BIAS_INIT, docs/model.md) or zero;
  loss       SOLVER.LOSS x SOLVER.LOSS_WEIGHT (and SOLVER.LOSS_STAGES), seg's definitions;
  batch norm pdseg's momenta (0.9 backbone, MODEL.BN_MOMENTUM head) with seg's warm-up min(m, (1+t)/(10+t));
  optimiser  SGD momentum (Paddle's v = mu v + g) or Adam, coupled L2 weight decay on every weight but
             the batch-norm gamma/beta outside the backbone; poly / constant LR stepped per step;
  data       drop_last batches of a shuffled list; stepscaling or unpadding resize (image bilinear with
             half-pixel centres, label nearest), vertical flip, horizontal mirror, random crop padded
             with MEAN*255 / IGNORE_INDEX; normalised (x/255 - MEAN)/STD;
  eval       eval-mode BN over the val list, one confusion matrix, IoU of the classes present in
             labels or predictions; a one-channel head predicts class 1 where its logit > 0.

It prints one `EVAL` line per epoch and a `RESULT` JSON line at the end. It shares no code with seg
(its only import from the repository is the reference network) and no random stream: compare it
with seg over several seeds, never run by run.
"""
import argparse
import ast
import json
import math
import os
import random
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts', 'reference'))
import network_reference as ref  # noqa: E402

torch.set_default_dtype(torch.float32)


# ------------------------------------------------------------------------------------------- config

def literal(v):
    """pdseg-style values: '(96, 96)' tuples, True/False/None, numbers; anything else stays a string."""
    if isinstance(v, str):
        t = v.strip()
        if re.fullmatch(r'\(.*\)|\[.*\]|-?[0-9.eE+-]+|True|False|None', t):
            try:
                return ast.literal_eval(t)
            except (ValueError, SyntaxError):
                return v
    return v


class Config:
    def __init__(self, path, overrides):
        self.d = yaml.safe_load(open(path)) or {}
        for k, v in zip(overrides[::2], overrides[1::2]):
            node = self.d
            *head, last = k.split('.')
            for h in head:
                node = node.setdefault(h, {})
            node[last] = literal(v)

    def get(self, key, default):
        node = self.d
        for part in key.split('.'):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return literal(node)


def loss_mix(cfg, epoch):
    """{loss name: weight} active in `epoch` (1-based)."""
    names, weights = cfg.get('SOLVER.LOSS', ['softmax_loss']), dict(cfg.get('SOLVER.LOSS_WEIGHT', {}) or {})
    for stage in cfg.get('SOLVER.LOSS_STAGES', []) or []:
        if epoch >= stage['BEGIN_EPOCH']:
            names, weights = stage['LOSS'], {**weights, **(stage.get('LOSS_WEIGHT') or {})}
    names = [names] if isinstance(names, str) else names
    return {n: float(weights.get(n.upper(), 1.0)) for n in names}


# --------------------------------------------------------------------------------------------- data

def read_list(cfg, key):
    root, sep = cfg.get('DATASET.DATA_DIR', ''), cfg.get('DATASET.SEPARATOR', ' ')
    pairs = []
    for line in open(cfg.get(key, '')):
        if line.strip():
            image, label = line.strip().split(sep)[:2]
            pairs.append((os.path.join(root, image), os.path.join(root, label)))
    return pairs


def decode(pair):
    image = torch.from_numpy(np.array(Image.open(pair[0]).convert('RGB'), np.float32)).permute(2, 0, 1)
    label = torch.from_numpy(np.array(Image.open(pair[1]), np.int64))
    return image, label  # [3, H, W] 0..255, [H, W]


def resize(image, label, w, h):
    if (h, w) == tuple(label.shape):
        return image, label
    image = F.interpolate(image[None], size=(h, w), mode='bilinear', align_corners=False)[0].round().clamp(0, 255)
    label = F.interpolate(label[None, None].double(), size=(h, w), mode='nearest')[0, 0].long()
    return image, label


def scale_of(cfg, rng):
    lo, hi, step = cfg.get('AUG.MIN_SCALE_FACTOR', 0.5), cfg.get('AUG.MAX_SCALE_FACTOR', 2.0), cfg.get('AUG.SCALE_STEP_SIZE', 0.25)
    if lo == hi:
        return lo
    if step == 0:
        return rng.uniform(lo, hi)
    n = int((hi - lo) / step + 1)
    return lo if n <= 1 else lo + (hi - lo) * rng.randrange(n) / (n - 1)


def sized(cfg, image, label, rng):
    method = cfg.get('AUG.AUG_METHOD', 'unpadding')
    h, w = label.shape
    if method == 'unpadding':
        fw, fh = cfg.get('AUG.FIX_RESIZE_SIZE', (512, 512))
        return resize(image, label, fw, fh)
    if method == 'stepscaling':
        s = scale_of(cfg, rng) if rng else 1.0
        return resize(image, label, max(1, int(w * s + 0.5)), max(1, int(h * s + 0.5)))
    raise SystemExit(f'peer_train.py: AUG.AUG_METHOD {method} is not implemented here')


def pad_to(cfg, image, label, cw, ch):
    h, w = label.shape
    ph, pw = max(ch - h, 0), max(cw - w, 0)
    if ph or pw:
        fill = torch.tensor(cfg.get('DATASET.PADDING_VALUE', [255 * m for m in cfg.get('MEAN', [0.5] * 3)]), dtype=torch.float32)
        padded = fill[:, None, None].expand(3, h + ph, w + pw).clone()
        padded[:, :h, :w] = image
        lab = torch.full((h + ph, w + pw), cfg.get('DATASET.IGNORE_INDEX', 255), dtype=torch.long)
        lab[:h, :w] = label
        image, label = padded, lab
    return image, label


def train_sample(cfg, image, label, rng):
    image, label = sized(cfg, image, label, rng)
    ratio = cfg.get('AUG.FLIP_RATIO', 0.5)
    n = 0 if ratio <= 0 else 1 if ratio >= 1 else int(1 / ratio)
    if cfg.get('AUG.FLIP', False) and n > 0 and rng.randrange(n) == 0:
        image, label = image.flip(1), label.flip(0)
    if cfg.get('AUG.MIRROR', True) and rng.randrange(2) == 1:
        image, label = image.flip(2), label.flip(1)
    cw, ch = cfg.get('TRAIN_CROP_SIZE', (512, 512))
    image, label = pad_to(cfg, image, label, cw, ch)
    h, w = label.shape
    y0, x0 = rng.randrange(h - ch + 1), rng.randrange(w - cw + 1)
    return image[:, y0:y0 + ch, x0:x0 + cw], label[y0:y0 + ch, x0:x0 + cw]


def normalise(cfg, images):
    mean = torch.tensor(cfg.get('MEAN', [0.5] * 3))[None, :, None, None]
    std = torch.tensor(cfg.get('STD', [0.5] * 3))[None, :, None, None]
    return ((images / 255 - mean) / std).permute(0, 2, 3, 1).contiguous()  # NHWC, as the Net takes it


# -------------------------------------------------------------------------------------------- model

def init_weights(net):
    weights = {}
    for name, shape in net.shapes.items():
        t = torch.zeros(shape)
        if name.endswith(('gamma', 'moving_variance')):
            t.fill_(1)
        elif name == 'logit/kernel':
            torch.nn.init.trunc_normal_(t, std=0.01, a=-0.02, b=0.02)
        elif name.endswith('/kernel'):  # [k, k, C_in, C_out]; depthwise [k, k, C, 1]: fan k*k*C either way
            t.normal_(0, math.sqrt(2 / (shape[0] * shape[1] * shape[2])))
        weights[name] = t.requires_grad_(net.trainable[name])
    return weights


def prior_bias(cfg, pairs, head_channels, classes):
    step = max(1, len(pairs) / 256)
    counts = np.zeros(classes)
    for i in range(min(len(pairs), 256)):
        lab = decode(pairs[int(i * step)])[1].numpy().reshape(-1)
        counts += np.bincount(lab[lab < classes], minlength=classes)
    p = (counts + 1) / (counts.sum() + classes)
    return [math.log(p[1] / p[0])] if head_channels == 1 else [math.log(x) for x in p]


def optimizer(cfg, weights):
    wd = cfg.get('SOLVER.WEIGHT_DECAY', 4e-5)
    decay = [w for n, w in weights.items() if w.requires_grad and ref.decays(n)]
    plain = [w for n, w in weights.items() if w.requires_grad and not ref.decays(n)]
    groups = [dict(params=decay, weight_decay=wd), dict(params=plain, weight_decay=0.0)]
    lr = cfg.get('SOLVER.LR', 0.1)
    if cfg.get('SOLVER.OPTIMIZER', 'sgd') == 'adam':
        return torch.optim.Adam(groups, lr=lr, betas=(cfg.get('SOLVER.MOMENTUM', 0.9), cfg.get('SOLVER.MOMENTUM2', 0.999)), eps=1e-8)
    return torch.optim.SGD(groups, lr=lr, momentum=cfg.get('SOLVER.MOMENTUM', 0.9))


def lr_at(cfg, step, total):
    lr, policy = cfg.get('SOLVER.LR', 0.1), cfg.get('SOLVER.LR_POLICY', 'poly')
    if cfg.get('SOLVER.LR_WARMUP', False):
        raise SystemExit('peer_train.py: SOLVER.LR_WARMUP is not implemented here')
    if policy == 'poly':
        return lr * (1 - min(step, total) / total) ** cfg.get('SOLVER.POWER', 0.9)
    if policy == 'constant':
        return lr
    raise SystemExit(f'peer_train.py: SOLVER.LR_POLICY {policy} is not implemented here')


def total_loss(cfg, mix, logits, labels):
    per_image = cfg.get('SOLVER.LOVASZ.PER_IMAGE', False)
    total = 0
    for name, weight in mix.items():
        fn = ref.LOSSES[name]
        if per_image and name.startswith('lovasz'):
            value = torch.stack([fn(logits[i:i + 1], labels[i:i + 1]) for i in range(len(labels))]).mean()
        else:
            value = fn(logits, labels)
        total = total + weight * value
    return total


# --------------------------------------------------------------------------------------------- eval

def evaluate(cfg, net, weights, pairs, classes, one_channel):
    cm = np.zeros((classes, classes), np.int64)
    cw, ch = cfg.get('EVAL_CROP_SIZE', (512, 512))
    ignore = cfg.get('DATASET.IGNORE_INDEX', 255)
    with torch.no_grad():
        for i in range(0, len(pairs), 8):
            batch = [pad_to(cfg, *sized(cfg, *decode(p), None), cw, ch) for p in pairs[i:i + 8]]
            z = net.forward(weights, normalise(cfg, torch.stack([b[0] for b in batch])), False)
            pred = (z[..., 0] > 0).long() if one_channel else z.argmax(-1)
            y = torch.stack([b[1] for b in batch])
            v = y != ignore
            cm += np.bincount((y[v] * classes + pred[v]).numpy(), minlength=classes * classes).reshape(classes, classes)
    tp = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - tp
    iou = [float(tp[c] / union[c]) if union[c] > 0 else None for c in range(classes)]
    present = [x for x in iou if x is not None]
    return dict(miou=float(np.mean(present)) if present else 0.0, iou=iou, acc=float(tp.sum() / max(1, cm.sum())))


# --------------------------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cfg', required=True)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bias-init', choices=['config', 'prior', 'zero'], default='config')
    ap.add_argument('overrides', nargs='*', help='KEY VALUE pairs, as seg takes them')
    a = ap.parse_args()
    cfg = Config(a.cfg, a.overrides)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)

    classes = cfg.get('DATASET.NUM_CLASSES', 2)
    epochs = cfg.get('SOLVER.NUM_EPOCHS', 100)
    one_channel = any(n in ref.ONE_CHANNEL for e in range(1, epochs + 1) for n in loss_mix(cfg, e))
    d = lambda k, v: cfg.get('MODEL.DEEPLAB.' + k, v)  # noqa: E731
    os_ = d('OUTPUT_STRIDE', 16)
    net = ref.Net(dict(multiplier=d('DEPTH_MULTIPLIER', 1.0), output_stride=os_, aspp=d('ENCODER_WITH_ASPP', True),
                       decoder=d('ENABLE_DECODER', True), head_channels=1 if one_channel else classes,
                       aspp_rates=[6, 12, 18] if os_ == 16 else [12, 24, 36], dropout=0.1))
    weights = init_weights(net)
    train, val = read_list(cfg, 'DATASET.TRAIN_FILE_LIST'), read_list(cfg, 'DATASET.VAL_FILE_LIST')
    bias_init = cfg.get('MODEL.LOGIT_BIAS_INIT', 'prior') if a.bias_init == 'config' else a.bias_init
    if bias_init == 'prior':
        with torch.no_grad():
            weights['logit/bias'].copy_(torch.tensor(prior_bias(cfg, train, net.cfg['head_channels'], classes)))
    opt = optimizer(cfg, weights)
    cache = [decode(p) for p in train]
    batch_size = cfg.get('BATCH_SIZE', 1)
    spe = len(train) // batch_size
    total, step, started, evals = epochs * spe, 0, time.time(), []
    for epoch in range(1, epochs + 1):
        mix, order, losses = loss_mix(cfg, epoch), list(range(len(train))), []
        rng.shuffle(order)
        for s in range(spe):
            batch = [train_sample(cfg, *cache[j], rng) for j in order[s * batch_size:(s + 1) * batch_size]]
            x, y = normalise(cfg, torch.stack([b[0] for b in batch])), torch.stack([b[1] for b in batch])
            for g in opt.param_groups:
                g['lr'] = lr_at(cfg, step, total)
            loss = total_loss(cfg, mix, net.forward(weights, x, True, updates=step), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                for k, v in net.moving.items():
                    weights[k].copy_(v)
            losses.append(loss.item())
            step += 1
        e = dict(epoch=epoch, loss=float(np.mean(losses)), **evaluate(cfg, net, weights, val, classes, one_channel), seconds=round(time.time() - started, 1))
        evals.append(e)
        print('EVAL ' + json.dumps(e), flush=True)
    print('RESULT ' + json.dumps(dict(cfg=a.cfg, seed=a.seed, bias_init=bias_init, overrides=a.overrides, evals=evals)), flush=True)


if __name__ == '__main__':
    main()
