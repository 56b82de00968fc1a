#!/usr/bin/python3
"""PyTorch peer of bench/step.ts: time training steps (forward + backward + Adam) of the same
DeepLabv3+/MobileNetV2 that seg builds, and print one `RESULT {json}` line.

Architecture: src/models (docs/model.md) with the default config, NCHW here and NHWC in seg; the
same layers, shapes and parameter count (2,720,434 trainable at 2 classes):
  MobileNetV2 x1.0 up to the 320-channel block (no 1280 conv), output stride 16: the unit that
  would stride to 32 keeps stride 1 and the units after it use depthwise dilation 2.
  Low-level features: the depthwise output (after BN + ReLU6) of the last 24-channel unit
  (144 channels, stride 4).
  ASPP: image pooling (global mean -> 1x1 conv with bias -> ReLU -> bilinear up) | 1x1 conv 256
  | three depthwise-separable atrous branches (rates 6, 12, 18); concat -> 1x1 conv 256
  -> dropout 0.1.
  Decoder: low-level -> 1x1 conv 48; ASPP output resized bilinearly to stride 4, concat (304 ch)
  -> two separable 3x3 convs 256 -> 1x1 conv to the classes (with bias) -> bilinear resize to the
  input size (align_corners=False, i.e. half-pixel centres).
  Every conv without bias is followed by batch norm (training mode) and ReLU6 (backbone) / ReLU.
--tf_padding pads stride-2 convs like TensorFlow's 'same' (seg does; PyTorch users pad 1/1, which
is what the default measures: same shapes and cost, one row/column of alignment different).

usage: /usr/bin/python3 bench/torch_step.py --size 256 [--batch 2] [--warmup 2] [--reps 5]
       [--threads 2] [--classes 2] [--channels_last] [--tf_padding] [--params]
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class TfSamePad(nn.Module):
    """TensorFlow 'same' padding for a k x k, stride-s conv (extra row/column at the bottom/right)."""

    def __init__(self, k, s, d=1):
        super().__init__()
        self.k, self.s, self.d = k, s, d

    def forward(self, x):
        eff = (self.k - 1) * self.d + 1
        h, w = x.shape[-2:]
        ph = max((-(-h // self.s) - 1) * self.s + eff - h, 0)
        pw = max((-(-w // self.s) - 1) * self.s + eff - w, 0)
        return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def conv_bn_act(cin, cout, k=1, stride=1, dilation=1, groups=1, act='relu', tf_padding=False, bn=True):
    layers = []
    if tf_padding and stride > 1:
        layers.append(TfSamePad(k, stride, dilation))
        pad = 0
    else:
        pad = dilation * (k - 1) // 2
    layers.append(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=not bn))
    if bn:
        layers.append(nn.BatchNorm2d(cout, eps=1e-5))
    if act == 'relu6':
        layers.append(nn.ReLU6(inplace=True))
    elif act == 'relu':
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand, dilation, tf_padding):
        super().__init__()
        hidden = cin * expand
        self.hidden = hidden
        self.expand = conv_bn_act(cin, hidden, 1, act='relu6') if expand != 1 else nn.Identity()
        self.depthwise = conv_bn_act(hidden, hidden, 3, stride, dilation, groups=hidden, act='relu6', tf_padding=tf_padding)
        self.project = conv_bn_act(hidden, cout, 1, act='none')
        self.residual = stride == 1 and cin == cout

    def forward_with_depthwise(self, x):
        d = self.depthwise(self.expand(x))
        y = self.project(d)
        return (x + y if self.residual else y), d

    def forward(self, x):
        return self.forward_with_depthwise(x)[0]


# expansion t, channels c, repeats n, stride s (MobileNetV2 paper, Table 2, without the last 1280 conv)
MBV2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def sep_conv(cin, cout, rate):
    return nn.Sequential(conv_bn_act(cin, cin, 3, 1, rate, groups=cin, act='relu'), conv_bn_act(cin, cout, 1, act='relu'))


class DeepLabV3PlusMobileNetV2(nn.Module):
    def __init__(self, num_classes=2, output_stride=16, rates=(6, 12, 18), tf_padding=False):
        super().__init__()
        self.stem = conv_bn_act(3, 32, 3, 2, act='relu6', tf_padding=tf_padding)
        units = []
        cin, cur, rate = 32, 2, 1
        for g, (t, c, n, s) in enumerate(MBV2):
            for i in range(n):
                stride = s if i == 0 else 1
                if cur * stride > output_stride:
                    layer_rate, rate, stride = rate, rate * stride, 1
                else:
                    layer_rate, cur = rate, cur * stride
                units.append(InvertedResidual(cin, c, stride, t, layer_rate, tf_padding))
                cin = c
            if g == 1:
                self.low_unit = len(units) - 1  # the last 24-channel unit (stride 4)
        self.units = nn.ModuleList(units)
        low_channels = units[self.low_unit].hidden
        self.aspp_pool = conv_bn_act(320, 256, 1, bn=False)  # 1x1 conv with bias, ReLU, no BN
        self.aspp0 = conv_bn_act(320, 256, 1)
        self.aspp_sep = nn.ModuleList([sep_conv(320, 256, r) for r in rates])
        self.aspp_proj = conv_bn_act(256 * (2 + len(rates)), 256, 1)
        self.dropout = nn.Dropout(0.1)
        self.low_proj = conv_bn_act(low_channels, 48, 1)
        self.dec1 = sep_conv(256 + 48, 256, 1)
        self.dec2 = sep_conv(256, 256, 1)
        self.cls = nn.Conv2d(256, num_classes, 1, bias=True)

    def forward(self, x):
        size = x.shape[-2:]
        y = self.stem(x)
        low = None
        for i, u in enumerate(self.units):
            y, d = u.forward_with_depthwise(y)
            if i == self.low_unit:
                low = d
        h, w = y.shape[-2:]
        pooled = self.aspp_pool(y.mean((2, 3), keepdim=True))
        branches = [F.interpolate(pooled, size=(h, w), mode='bilinear', align_corners=False), self.aspp0(y)]
        branches += [m(y) for m in self.aspp_sep]
        a = self.dropout(self.aspp_proj(torch.cat(branches, 1)))
        lf = self.low_proj(low)
        a = F.interpolate(a, size=lf.shape[-2:], mode='bilinear', align_corners=False)
        d = self.dec2(self.dec1(torch.cat([a, lf], 1)))
        return F.interpolate(self.cls(d), size=size, mode='bilinear', align_corners=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--reps', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--classes', type=int, default=2)
    ap.add_argument('--channels_last', action='store_true')
    ap.add_argument('--tf_padding', action='store_true')
    ap.add_argument('--params', action='store_true', help='print the parameter count and exit')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = DeepLabV3PlusMobileNetV2(a.classes, tf_padding=a.tf_padding)
    nparams = sum(p.numel() for p in model.parameters())
    if a.params:
        print(json.dumps({'params': nparams}))
        return
    desc = f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads' + (', channels_last' if a.channels_last else '')
    print(f'backend={desc} params={nparams} size={a.size} batch={a.batch}', flush=True)
    x = torch.rand(a.batch, 3, a.size, a.size) * 2 - 1
    y = torch.randint(0, a.classes, (a.batch, a.size, a.size))
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    times = []
    loss_value = float('nan')
    for i in range(a.warmup + a.reps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss_value = loss.item()
        dt = (time.perf_counter() - t0) * 1000
        if i >= a.warmup:
            times.append(dt)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'warmup' if i < a.warmup else 'rep'} {i} loss={loss_value:.4f} ms={dt:.0f} peakRSS_MB={rss:.0f}", flush=True)
    result = {
        'path': 'torch', 'description': desc, 'size': a.size, 'batch': a.batch, 'micro': 1, 'reps': a.reps,
        'medianMs': statistics.median(times), 'minMs': min(times), 'maxMs': max(times),
        'times': [round(t) for t in times],
        'peakRssMB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        'params': nparams, 'model': 'bench/torch_step.py DeepLabV3PlusMobileNetV2', 'loss': loss_value,
    }
    print('RESULT ' + json.dumps(result), flush=True)


if __name__ == '__main__':
    sys.exit(main())
