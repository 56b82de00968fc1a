#!/usr/bin/python3
"""Time the Lovász-Softmax loss as the authors' PyTorch code computes it (one sort per present class,
the Jaccard gradient by cumsum, backward by autograd), for comparison with seg's lovasz_share.ts:
forward + backward on [batch, C, size, size] logits, uniform labels (every class present).
Written here after the algorithm of Berman et al. (lovasz_softmax_flat); not their file.

usage: /usr/bin/python3 bench/lovasz_torch.py [--size 512] [--batch 2] [--classes 21] [--reps 4]
Run it under GLIBC_TUNABLES as bench.ts's torch-malloc row for PyTorch's best case on this VM.
Never run by the tests.
"""
import argparse
import time

import torch


def lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def lovasz_softmax_flat(probas, labels):
    losses = []
    for c in range(probas.size(1)):
        fg = (labels == c).float()
        if fg.sum() == 0:
            continue
        errors = (fg - probas[:, c]).abs()
        errors_sorted, perm = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg[perm])))
    return sum(losses) / len(losses)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=512)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--classes', type=int, default=21)
    ap.add_argument('--reps', type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    z = (torch.randn(a.batch, a.classes, a.size, a.size) * 2).requires_grad_(True)
    labels = torch.randint(0, a.classes, (a.batch, a.size, a.size)).view(-1)
    times = []
    for _ in range(a.reps + 1):
        t0 = time.perf_counter()
        p = torch.softmax(z, 1).permute(0, 2, 3, 1).reshape(-1, a.classes)
        lovasz_softmax_flat(p, labels).backward()
        z.grad = None
        times.append(1000 * (time.perf_counter() - t0))
    times = sorted(times[1:])
    print(f'PyTorch {torch.__version__} Lovász-Softmax {a.batch}x{a.size}x{a.size}x{a.classes} forward+backward: '
          f'median {times[len(times) // 2]:.0f} ms (min {times[0]:.0f}, max {times[-1]:.0f}) over {a.reps}')


if __name__ == '__main__':
    main()
