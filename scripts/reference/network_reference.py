#!/usr/bin/env python3
"""Whole-network reference for seg's DeepLabv3+/MobileNetV2 -> test/golden/network_reference.json.

Run once with Debian's PyTorch (apt-get install python3-torch):

    /usr/bin/python3 scripts/reference/network_reference.py

It builds, in PyTorch (float64), the network seg builds for a few configurations (width x0.5 and
x1.0, output stride 8 and 16, with and without ASPP and decoder, 1-, 2- and 11-channel heads),
gives both sides identical weights, and records on one fixed batch:

  logits       train mode (batch statistics) and eval mode (moving statistics);
  moving stats the batch-norm moving mean/variance after the train-mode forward;
  losses       every loss that fits the head, on the train-mode logits;
  gradients    d(total)/d(weight) for every trainable weight, total = the config's weighted mix;
  optimiser    the update (w' - w) of one torch.optim.SGD (momentum) step and one torch.optim.Adam
               step from given slots, on a synthetic gradient (step_gradient: a function of name
               and index, so that the optimiser is checked exactly, apart from the network's
               float32 conditioning), L2 decay on the weights `decays` names.

Identical weights: neither side loads the other's file. Every value (weights, optimiser slots, input
batch, labels) is a function of its tensor's name and flat index in seg's layout (NHWC, kernels
[kh, kw, cin, cout], depthwise [kh, kw, c, 1]), `uniform(name, i)` below; seg's test computes the
same function (test/models/network_reference.ts). The name mapping is seg's weight names, with
kernels transposed to PyTorch's [cout, cin, kh, kw] (depthwise [c, 1, kh, kw]).

What the JSON stores per tensor (it would be hundreds of MB otherwise): `n`, the L2 `norm`, two
projections `p` = sum_i t_i r_i on pseudo-random signs r_i (again a function of name and index), a
few `samples` (index, value), and `f32` = ||t32 - t||_2, how far the same computation in float32
PyTorch lands from float64. For a difference e between seg and this reference, |p_seg - p_ref| is
about ||e||_2, so max(|dnorm|, |dp|) estimates ||e||_2.

Why `f32`: with random weights and labels the gradients are sums of many cancelling terms (batch
norm's backward subtracts the mean and the x-hat projection of dy, the loss gradient sums to nearly
zero over pixels), so float32 rounding alone moves train-mode gradients by up to ~1e-2 relative in
PyTorch itself. seg computes in float32; the test holds it to 1e-4 relative or to a small multiple of
PyTorch's own float32 deviation, whichever is larger.

Where seg deliberately differs from PyTorch's own modules, this network mirrors seg (docs/model.md):
TensorFlow 'same' padding (stride-2 convs pad one more at the bottom/right), the input zero-padded
at the bottom/right to a multiple of the output stride and the logits cropped back, atrous MobileNetV2
at output stride 8/16 (TF DeepLab's rule), the low-level feature = the depthwise output of the last
stride-4 unit, no batch norm on the image-pooling branch, batch norm with the *biased* batch variance
in the moving average and pdseg's momenta (moving = m*moving + (1-m)*batch, m = 0.9 in the
backbone, MODEL.BN_MOMENTUM = 0.99 in ASPP/decoder), epsilon 1e-5, dropout off (rate 0: it is
random), SGD as Paddle's and PyTorch's (v = mu*v + g; w -= lr*v), coupled L2 weight decay
(g += wd*w, as Paddle's regularizer and PyTorch's weight_decay) on every weight except the
batch-norm gamma/beta outside the backbone.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
IGNORE = 255
MASK = 0xFFFFFFFF
OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'golden', 'network_reference.json')

# --------------------------------------------------------------------------------------------
# Deterministic values: uniform(name, n) in [-1, 1), identical in test/models/network_reference.ts


def fnv1a(s):
    h = 0x811C9DC5
    for ch in s.encode('utf-8'):
        h ^= ch
        h = (h * 0x01000193) & MASK
    return h


def mix(seed, n):
    x = (np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(seed)) & np.uint64(MASK)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & np.uint64(MASK)
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & np.uint64(MASK)
    x ^= x >> np.uint64(16)
    return x


def uniform(name, n):
    """n values in [-1, 1) for the tensor called `name` (float64, exactly representable in float32)."""
    x = mix(fnv1a(name), n)
    return (x >> np.uint64(8)).astype(np.float64) / float(1 << 23) - 1.0


def signs(name, n):
    return np.where(mix(fnv1a('sign:' + name), n) >> np.uint64(31), 1.0, -1.0)


def weight_values(name, shape):
    """seg-layout values of weight `name` (see the TS twin for the same rules)."""
    n = int(np.prod(shape))
    u = uniform(name, n)
    if name.endswith('/kernel'):
        fan_in = shape[0] * shape[1] * (1 if '/depthwise/' in name else shape[2])
        v = u * math.sqrt(6.0 / fan_in)
    elif name.endswith('/gamma'):
        v = 1.0 + 0.25 * u
    elif name.endswith('/moving_variance'):
        v = 1.0 + 0.5 * u
    else:  # beta, bias, moving_mean
        v = 0.2 * u
    return np.float32(v).astype(np.float64).reshape(shape)


# --------------------------------------------------------------------------------------------
# The network, mirroring src/models (weights held by name, seg layout converted on use)

def make_divisible(v, d=8):
    n = max(d, int(v + d / 2) // d * d)
    return n + d if n < 0.9 * v else n


GROUPS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def mobilenet_plan(mult, os_):
    stem = make_divisible(32 * mult)
    units, cin, current, rate, low = [], stem, 2, 1, -1
    for g, (t, c, n, s) in enumerate(GROUPS):
        cout = make_divisible(c * mult)
        for i in range(n):
            wanted = s if i == 0 else 1
            if current * wanted > os_:
                stride, unit_rate = 1, rate
                rate *= wanted
            else:
                stride, unit_rate = wanted, rate
                current *= wanted
            hidden = int(round(cin * t))
            units.append(dict(index=len(units), cin=cin, hidden=hidden, cout=cout, expand=t != 1, stride=stride,
                              rate=unit_rate, residual=stride == 1 and cin == cout))
            cin = cout
        if g == 1:
            low = len(units) - 1
    return stem, units, low


class Net:
    """seg's DeepLabV3Plus.forward with dropout 0, over a dict of named weights."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.shapes = {}  # name -> seg shape, in creation order (seg's order)
        self.trainable = {}
        self.build()

    # weight declarations (names and shapes as seg's VariableStore creates them)
    def conv_bn(self, name, cin, cout, k, depthwise=False):
        self.shapes[name + '/kernel'] = [k, k, cin, 1] if depthwise else [k, k, cin, cout]
        self.trainable[name + '/kernel'] = True
        for p, tr in (('gamma', True), ('beta', True), ('moving_mean', False), ('moving_variance', False)):
            self.shapes[f'{name}/bn/{p}'] = [cout]
            self.trainable[f'{name}/bn/{p}'] = tr

    def conv_bias(self, name, cin, cout):
        self.shapes[name + '/kernel'] = [1, 1, cin, cout]
        self.shapes[name + '/bias'] = [cout]
        self.trainable[name + '/kernel'] = self.trainable[name + '/bias'] = True

    def sep(self, name, cin, cout):
        self.conv_bn(name + '/depthwise', cin, cin, 3, depthwise=True)
        self.conv_bn(name + '/pointwise', cin, cout, 1)

    def build(self):
        c = self.cfg
        stem, self.units, self.low = mobilenet_plan(c['multiplier'], c['output_stride'])
        self.conv_bn('backbone/stem', 3, stem, 3)
        for u in self.units:
            b = f"backbone/block_{u['index']}"
            if u['expand']:
                self.conv_bn(b + '/expand', u['cin'], u['hidden'], 1)
            self.conv_bn(b + '/depthwise', u['hidden'], u['hidden'], 3, depthwise=True)
            self.conv_bn(b + '/project', u['hidden'], u['cout'], 1)
        ch = self.units[-1]['cout']
        low_ch = self.units[self.low]['hidden']
        if c['aspp']:
            self.rates = c['aspp_rates']
            self.conv_bias('encoder/image_pool', ch, 256)
            self.conv_bn('encoder/aspp0', ch, 256, 1)
            for i, _ in enumerate(self.rates):
                self.sep(f'encoder/aspp{i + 1}', ch, 256)
            self.conv_bn('encoder/concat', 256 * (2 + len(self.rates)), 256, 1)
            ch = 256
        if c['decoder']:
            self.conv_bn('decoder/shortcut', low_ch, 48, 1)
            self.sep('decoder/conv1', ch + 48, 256)
            self.sep('decoder/conv2', 256, 256)
            ch = 256
        self.conv_bias('logit', ch, c['head_channels'])

    # ops
    def same_pad(self, x, k, stride, dilation):
        def pads(n):
            out = -(-n // stride)
            total = max((out - 1) * stride + (k - 1) * dilation + 1 - n, 0)
            return total // 2, total - total // 2
        (t, b), (l, r) = pads(x.shape[2]), pads(x.shape[3])
        return F.pad(x, (l, r, t, b))

    def conv(self, x, name, stride=1, dilation=1, depthwise=False):
        k = self.w[name + '/kernel']
        kk = k.shape[0]
        wt = k.permute(2, 3, 0, 1) if depthwise else k.permute(3, 2, 0, 1)  # [c,1,kh,kw] / [cout,cin,kh,kw]
        x = self.same_pad(x, kk, stride, dilation)
        return F.conv2d(x, wt, stride=stride, dilation=dilation, groups=x.shape[1] if depthwise else 1)

    def bn(self, x, name, momentum):
        g, b = self.w[name + '/bn/gamma'], self.w[name + '/bn/beta']
        mm, mv = self.w[name + '/bn/moving_mean'], self.w[name + '/bn/moving_variance']
        if self.training:
            if self.updates is not None:  # seg's warm-up of the moving statistics (models/layers.ts)
                momentum = min(momentum, (1 + self.updates) / (10 + self.updates))
            mean = x.mean((0, 2, 3))
            var = ((x - mean[None, :, None, None]) ** 2).mean((0, 2, 3))
            self.moving[name + '/bn/moving_mean'] = momentum * mm + (1 - momentum) * mean.detach()
            self.moving[name + '/bn/moving_variance'] = momentum * mv + (1 - momentum) * var.detach()
        else:
            mean, var = mm, mv
        inv = 1.0 / torch.sqrt(var + 1e-5)
        return (x - mean[None, :, None, None]) * (inv * g)[None, :, None, None] + b[None, :, None, None]

    @staticmethod
    def act(x, a):
        return F.relu6(x) if a == 'relu6' else F.relu(x) if a == 'relu' else x

    def conv_bn_act(self, x, name, act, momentum, stride=1, dilation=1, depthwise=False):
        return self.act(self.bn(self.conv(x, name, stride, dilation, depthwise), name, momentum), act)

    def sep_conv(self, x, name, momentum, dilation=1):
        x = self.conv_bn_act(x, name + '/depthwise', 'relu', momentum, dilation=dilation, depthwise=True)
        return self.conv_bn_act(x, name + '/pointwise', 'relu', momentum)

    @staticmethod
    def resize(x, size):
        return F.interpolate(x, size=size, mode='bilinear', align_corners=False)

    def forward(self, weights, x_nhwc, training, updates=None):
        self.w, self.training, self.moving, self.updates = weights, training, {}, updates
        c = self.cfg
        bm, hm = 0.9, 0.99
        x = x_nhwc.permute(0, 3, 1, 2)
        h, w = x.shape[2:]
        os_ = c['output_stride']
        hp, wp = -(-h // os_) * os_, -(-w // os_) * os_
        x = F.pad(x, (0, wp - w, 0, hp - h))
        y = self.conv_bn_act(x, 'backbone/stem', 'relu6', bm, stride=2)
        low = None
        for u in self.units:
            b = f"backbone/block_{u['index']}"
            e = self.conv_bn_act(y, b + '/expand', 'relu6', bm) if u['expand'] else y
            d = self.conv_bn_act(e, b + '/depthwise', 'relu6', bm, stride=u['stride'], dilation=u['rate'], depthwise=True)
            if u['index'] == self.low:
                low = d
            p = self.conv_bn_act(d, b + '/project', 'none', bm)
            y = y + p if u['residual'] else p
        if c['aspp']:
            fh, fw = y.shape[2:]
            pool = y.mean((2, 3), keepdim=True)
            pool = F.relu(self.conv(pool, 'encoder/image_pool') + self.w['encoder/image_pool/bias'][None, :, None, None])
            outs = [self.resize(pool, (fh, fw)), self.conv_bn_act(y, 'encoder/aspp0', 'relu', hm)]
            outs += [self.sep_conv(y, f'encoder/aspp{i + 1}', hm, r) for i, r in enumerate(self.rates)]
            y = self.conv_bn_act(torch.cat(outs, 1), 'encoder/concat', 'relu', hm)
            if training and c.get('dropout', 0) > 0:  # seg's inverted dropout after the projection (0 here: it is random)
                y = F.dropout(y, c['dropout'])
        if c['decoder']:
            sc = self.conv_bn_act(low, 'decoder/shortcut', 'relu', hm)
            y = torch.cat([self.resize(y, sc.shape[2:]), sc], 1)
            y = self.sep_conv(self.sep_conv(y, 'decoder/conv1', hm), 'decoder/conv2', hm)
        y = self.conv(y, 'logit') + self.w['logit/bias'][None, :, None, None]
        y = self.resize(y, (hp, wp))[:, :, :h, :w]
        return y.permute(0, 2, 3, 1)  # NHWC


# --------------------------------------------------------------------------------------------
# Losses (seg's definitions, src/losses), on NHWC logits and [N, H, W] labels


def lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    inter = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    j = 1.0 - inter / union
    j[1:] = j[1:] - j[:-1].clone()
    return j


def bce(z, y):
    v = y != IGNORE
    return F.binary_cross_entropy_with_logits(z[..., 0][v], (y[v] == 1).double())


def softmax_ce(z, y):
    v = y != IGNORE
    return F.cross_entropy(z[v], y[v])


def lovasz_hinge(z, y):
    v = (y != IGNORE).reshape(-1)
    x, t = z[..., 0].reshape(-1)[v], (y.reshape(-1)[v] == 1).double()
    err = 1 - x * (2 * t - 1)
    e, perm = torch.sort(err, descending=True, stable=True)
    return torch.dot(F.relu(e), lovasz_grad(t[perm]))


def lovasz_softmax(z, y):
    C = z.shape[-1]
    v = (y != IGNORE).reshape(-1)
    p, t = F.softmax(z, -1).reshape(-1, C)[v], y.reshape(-1)[v]
    losses = []
    for c in range(C):
        fg = (t == c).double()
        if fg.sum() == 0:
            continue
        e, perm = torch.sort((fg - p[:, c]).abs(), descending=True, stable=True)
        losses.append(torch.dot(e, lovasz_grad(fg[perm])))
    return torch.stack(losses).mean()


def dice(z, y):
    out = []
    for n in range(z.shape[0]):
        v = (y[n] != IGNORE).double()
        if v.sum() == 0:
            continue
        p = torch.sigmoid(z[n, ..., 0]) * v
        t = (y[n] == 1).double() * v
        out.append(1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1))
    return torch.stack(out).mean()


LOSSES = {'softmax_loss': softmax_ce, 'bce_loss': bce, 'dice_loss': dice, 'lovasz_hinge_loss': lovasz_hinge,
          'lovasz_softmax_loss': lovasz_softmax}
ONE_CHANNEL = ('bce_loss', 'dice_loss', 'lovasz_hinge_loss')

# --------------------------------------------------------------------------------------------
# Optimisers (src/train/optimizer.ts) from a given state: slots and step count are functions of the names too

SGD = dict(lr=0.01, momentum=0.9, weight_decay=4e-5)
ADAM = dict(lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, weight_decay=4e-5, step=3)


def decays(name):
    is_norm = name.endswith('/bn/gamma') or name.endswith('/bn/beta')
    return not (is_norm and not name.startswith('backbone/'))


def slot_m(name, shape):
    return np.float32(0.01 * uniform(name + '/m', int(np.prod(shape)))).astype(np.float64).reshape(shape)


def slot_v(name, shape):
    return np.float32(1e-4 * (uniform(name + '/v', int(np.prod(shape))) + 1.5)).astype(np.float64).reshape(shape)


def step_gradient(name, shape):
    """The synthetic gradient both optimiser steps are taken with (a function of name and index)."""
    return np.float32(0.1 * uniform(name + '/g', int(np.prod(shape)))).astype(np.float64).reshape(shape)


def optimiser_updates(weights, names, kind, dtype):
    """w' - w of one torch.optim step from the slots above, on step_gradient; L2 decay coupled (g += wd*w)."""
    params = {k: torch.tensor(weights[k], dtype=dtype, requires_grad=True) for k in names}
    wd = (SGD if kind == 'sgd' else ADAM)['weight_decay']
    groups = [dict(params=[params[k] for k in names if decays(k) == d], weight_decay=wd if d else 0.0)
              for d in (True, False)]
    if kind == 'sgd':
        opt = torch.optim.SGD(groups, lr=SGD['lr'], momentum=SGD['momentum'])
    else:
        a = ADAM
        opt = torch.optim.Adam(groups, lr=a['lr'], betas=(a['beta1'], a['beta2']), eps=a['epsilon'])
    for k in names:
        p = params[k]
        p.grad = torch.tensor(step_gradient(k, p.shape), dtype=dtype)
        m = torch.tensor(slot_m(k, p.shape), dtype=dtype)
        if kind == 'sgd':
            opt.state[p] = dict(momentum_buffer=m)
        else:  # state after step - 1 steps: the next step is number ADAM['step']
            opt.state[p] = dict(step=torch.tensor(float(ADAM['step'] - 1)), exp_avg=m,
                                exp_avg_sq=torch.tensor(slot_v(k, p.shape), dtype=dtype))
    before = {k: params[k].detach().clone() for k in names}
    opt.step()
    return {k: (params[k].detach() - before[k]).double().numpy() for k in names}


# --------------------------------------------------------------------------------------------

CONFIGS = [
    dict(name='x0.5_os16_aspp_decoder_1ch', multiplier=0.5, output_stride=16, aspp=True, decoder=True, head_channels=1,
         loss={'lovasz_hinge_loss': 0.5, 'bce_loss': 0.5}),
    dict(name='x0.5_os16_aspp_decoder_2ch', multiplier=0.5, output_stride=16, aspp=True, decoder=True, head_channels=2,
         loss={'softmax_loss': 1.0}),
    dict(name='x1.0_os8_aspp_decoder_11ch', multiplier=1.0, output_stride=8, aspp=True, decoder=True, head_channels=11,
         loss={'lovasz_softmax_loss': 0.2, 'softmax_loss': 0.8}),
    dict(name='x1.0_os16_plain_2ch', multiplier=1.0, output_stride=16, aspp=False, decoder=False, head_channels=2,
         loss={'lovasz_softmax_loss': 0.5, 'softmax_loss': 0.5}),
    dict(name='x0.5_os8_aspp_1ch', multiplier=0.5, output_stride=8, aspp=True, decoder=False, head_channels=1,
         loss={'bce_loss': 1.0}),
    dict(name='x0.5_os16_decoder_11ch', multiplier=0.5, output_stride=16, aspp=False, decoder=True, head_channels=11,
         loss={'softmax_loss': 1.0}),
    dict(name='x1.0_os16_aspp_decoder_1ch', multiplier=1.0, output_stride=16, aspp=True, decoder=True, head_channels=1,
         loss={'dice_loss': 0.3, 'bce_loss': 0.7}),
]
BATCH = (2, 44, 120)  # N, H, W: padded at OS8 and OS16, not square; ASPP rates 6 (OS16: 3x8 map) and 12 (OS8: 6x15) really atrous


def batch(cfg):
    n, h, w = BATCH
    x = np.float32(uniform('input', n * h * w * 3)).astype(np.float64).reshape(n, h, w, 3)
    classes = 2 if cfg['head_channels'] == 1 else cfg['head_channels']
    u = (uniform('labels', n * h * w) + 1) / 2
    y = np.minimum((u * classes).astype(np.int64), classes - 1)
    y[(uniform('ignore', n * h * w) + 1) / 2 < 0.05] = IGNORE
    return torch.tensor(x), torch.tensor(y.reshape(n, h, w))


def summary(name, a64, a32):
    a = np.asarray(a64, dtype=np.float64).reshape(-1)
    b = np.asarray(a32, dtype=np.float64).reshape(-1)
    n = a.size
    r1, r2 = signs(name + '#1', n), signs(name + '#2', n)
    idx = sorted(set(int(i) for i in (mix(fnv1a('sample:' + name), 4) % np.uint64(n))))
    return dict(n=n, norm=float(np.sqrt((a * a).sum())), p=[float((a * r1).sum()), float((a * r2).sum())],
                samples=[[i, float(a[i])] for i in idx], f32=float(np.sqrt(((a - b) ** 2).sum())))


def compute(cfg, dtype):
    """Every recorded quantity, as float64 numpy arrays, computed in `dtype`."""
    torch.set_default_dtype(dtype)
    net = Net(cfg)
    weights = {k: torch.tensor(weight_values(k, s), dtype=dtype, requires_grad=net.trainable[k]) for k, s in net.shapes.items()}
    x, y = batch(cfg)
    x = x.to(dtype)
    train_logits = net.forward(weights, x, True)
    moving = {k: v.double().numpy() for k, v in net.moving.items()}
    one = cfg['head_channels'] == 1
    losses = {k: float(LOSSES[k](train_logits, y)) for k in LOSSES if (k in ONE_CHANNEL) == one}
    total = sum(wt * LOSSES[k](train_logits, y) for k, wt in cfg['loss'].items())
    trainable = [k for k in net.shapes if net.trainable[k]]
    grads = torch.autograd.grad(total, [weights[k] for k in trainable])
    with torch.no_grad():
        eval_logits = net.forward(weights, x, False)
    out = dict(losses=losses, total=float(total), shapes=net.shapes, logits_train=train_logits.detach().double().numpy(),
               logits_eval=eval_logits.double().numpy(), moving=moving, grads={}, sgd={}, adam={})
    for k, g in zip(trainable, grads):
        out['grads'][k] = g.double().numpy()
    values = {k: weights[k].detach().double().numpy() for k in trainable}
    out['sgd'] = optimiser_updates(values, trainable, 'sgd', dtype)
    out['adam'] = optimiser_updates(values, trainable, 'adam', dtype)
    torch.set_default_dtype(torch.float64)
    return out


def run(cfg):
    rates = {16: [6, 12, 18], 8: [12, 24, 36]}[cfg['output_stride']]
    cfg = dict(cfg, aspp_rates=rates if cfg['aspp'] else [])
    r64, r32 = compute(cfg, torch.float64), compute(cfg, torch.float32)
    out = dict(cfg, batch=list(BATCH), losses=r64['losses'], total=r64['total'],
               weights=[[k, s] for k, s in r64['shapes'].items()],
               logits_train=summary('logits_train', r64['logits_train'], r32['logits_train']),
               logits_eval=summary('logits_eval', r64['logits_eval'], r32['logits_eval']))
    for q in ('moving', 'grads', 'sgd', 'adam'):
        out[q] = {k: summary(k, v, r32[q][k]) for k, v in r64[q].items()}
    return out


def main():
    torch.set_num_threads(2)
    result = dict(
        generator='scripts/reference/network_reference.py', torch=torch.__version__, dtype='float64',
        sgd=SGD, adam=ADAM, bn=dict(epsilon=1e-5, backbone_momentum=0.9, head_momentum=0.99),
        configs=[run(c) for c in CONFIGS])
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(result, f, separators=(',', ':'))
    print(f'wrote {OUT}: {len(result["configs"])} configs, {os.path.getsize(OUT)} bytes')


if __name__ == '__main__':
    main()
