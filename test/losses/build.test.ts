/**
 * buildLoss and activeLossStage: the weighted total from SOLVER.LOSS / LOSS_WEIGHT (and
 * LOSS_STAGES, MULTI_LOSS_WEIGHT), the options taken from the config, a `seg` process resolving
 * the config the road recipe uses, and tensor memory staying flat across training-like steps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigSchema, type SegConfig, type SegConfigInput } from '../../src/config/schema.js';
import { activeLossStage, buildLoss } from '../../src/losses/build.js';
import { LOSS_HEADS, LOSSES, LOSS_NAMES } from '../../src/losses/registry.js';
import { runSeg } from '../helpers/cli.js';
import { BACKENDS, useBackend } from './backend.js';
import { assertGrad, assertValue, goldenCase, inputs } from './golden.js';
import * as index from '../../src/index.js';

const config = (input: SegConfigInput): SegConfig => ConfigSchema.parse(input);

test('activeLossStage: SOLVER.LOSS, then the latest LOSS_STAGES entry reached, with weight fallback', () => {
  const cfg = config({
    SOLVER: {
      LOSS: ['bce_loss'],
      LOSS_WEIGHT: { BCE_LOSS: 0.7, LOVASZ_HINGE_LOSS: 0.25 },
      LOSS_STAGES: [
        { BEGIN_EPOCH: 10, LOSS: ['lovasz_hinge_loss', 'bce_loss'], LOSS_WEIGHT: { BCE_LOSS: 0.5 } },
        { BEGIN_EPOCH: 20, LOSS: ['lovasz_hinge_loss'], LOSS_WEIGHT: { LOVASZ_HINGE_LOSS: 1 } },
      ],
    },
    MODEL: { MULTI_LOSS_WEIGHT: [2] },
  });
  const at = (e?: number) => activeLossStage(cfg, e);
  assert.deepEqual(at().terms, [{ name: 'bce_loss', weight: 0.7 }]);
  assert.equal(at().stage, null);
  assert.deepEqual(at(9).terms, [{ name: 'bce_loss', weight: 0.7 }]);
  // Stage 0 from epoch 10: its own BCE weight, the hinge weight from SOLVER.LOSS_WEIGHT; terms in
  // the registry's (pdseg's) summation order, not the list order.
  assert.deepEqual(at(10).terms, [
    { name: 'bce_loss', weight: 0.5 },
    { name: 'lovasz_hinge_loss', weight: 0.25 },
  ]);
  assert.equal(at(19).stage, 0);
  assert.equal(at(19).beginEpoch, 10);
  assert.deepEqual(at(20).terms, [{ name: 'lovasz_hinge_loss', weight: 1 }]);
  assert.equal(at(300).stage, 1);
  assert.equal(at(10).outputWeight, 2);
  assert.equal(at(10).describe, 'SOLVER.LOSS_STAGES[0] (from epoch 10): 2·(0.5·bce_loss + 0.25·lovasz_hinge_loss)');
  assert.equal(activeLossStage(config({})).describe, 'SOLVER.LOSS: 1·softmax_loss');
  // A name listed twice counts once (pdseg tests membership).
  assert.deepEqual(activeLossStage(config({ SOLVER: { LOSS: ['bce_loss', 'bce_loss'] } })).terms, [{ name: 'bce_loss', weight: 1 }]);
});

test('the registry is the schema\'s source of loss names, in pdseg\'s summation order', () => {
  assert.deepEqual(LOSS_NAMES, ['softmax_loss', 'dice_loss', 'bce_loss', 'lovasz_hinge_loss', 'lovasz_softmax_loss']);
  assert.ok(Object.isFrozen(LOSSES));
  for (const n of LOSS_NAMES) assert.equal(typeof LOSSES[n].core, 'function');
});

test('the package entry point exports the five losses and buildLoss', () => {
  for (const name of ['softmaxLoss', 'bceLoss', 'diceLoss', 'lovaszHingeLoss', 'lovaszSoftmaxLoss', 'buildLoss'] as const) {
    assert.equal(typeof index[name], 'function', name);
  }
});

/** total, terms and d total / d logits of a built loss. */
function evaluate(lossFn: ReturnType<typeof buildLoss>, logits: tf.Tensor4D, labels: tf.Tensor3D) {
  let terms: Record<string, number> = {};
  const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => {
    const out = lossFn(x, labels);
    terms = Object.fromEntries(Object.entries(out.terms).map(([k, t]) => [k, (t as tf.Scalar).dataSync()[0] as number]));
    return out.total;
  })(logits);
  const r = { total: value.dataSync()[0] as number, grad: grad.dataSync() as Float32Array, terms };
  tf.dispose([value, grad]);
  return r;
}

function weightedGrad(c: ReturnType<typeof goldenCase>, weights: Record<string, number>, factor = 1): number[] {
  const out = new Array<number>(c.logits.length).fill(0);
  for (const [name, w] of Object.entries(weights)) {
    const g = c.terms?.[name]?.grad;
    assert.ok(g, name);
    g.forEach((v, i) => (out[i] = (out[i] as number) + factor * w * v));
  }
  return out;
}

for (const backend of BACKENDS) {
  test(`buildLoss: total = MULTI_LOSS_WEIGHT[0]·Σ weight·term, terms unweighted, against the references [${backend}]`, async () => {
    await useBackend(backend);
    const bin = goldenCase('mix_binary');
    const t = bin.terms as Record<string, { value: number }>;
    const { logits, labels } = inputs(bin);
    // The road recipe: 0.5·lovasz_hinge + 0.5·bce.
    const road = buildLoss(config({ DATASET: { NUM_CLASSES: 2 }, SOLVER: { LOSS: ['lovasz_hinge_loss', 'bce_loss'], LOSS_WEIGHT: { LOVASZ_HINGE_LOSS: 0.5, BCE_LOSS: 0.5 } } }));
    let r = evaluate(road, logits, labels);
    assert.deepEqual(Object.keys(r.terms), ['bce_loss', 'lovasz_hinge_loss']);
    assertValue(r.terms['lovasz_hinge_loss'] as number, t['lovasz_hinge_loss']!.value, 'hinge term');
    assertValue(r.terms['bce_loss'] as number, t['bce_loss']!.value, 'bce term');
    assertValue(r.total, 0.5 * t['lovasz_hinge_loss']!.value + 0.5 * t['bce_loss']!.value, 'road total');
    assertGrad(r.grad, weightedGrad(bin, { lovasz_hinge_loss: 0.5, bce_loss: 0.5 }), 'road gradient');
    // Three terms, uneven weights, and the output weight.
    const three = buildLoss(
      config({ DATASET: { NUM_CLASSES: 2 }, SOLVER: { LOSS: ['dice_loss', 'lovasz_hinge_loss', 'bce_loss'], LOSS_WEIGHT: { DICE_LOSS: 0.3, LOVASZ_HINGE_LOSS: 2, BCE_LOSS: 0.1 } }, MODEL: { MULTI_LOSS_WEIGHT: [1.5] } }),
    );
    r = evaluate(three, logits, labels);
    const w3 = { dice_loss: 0.3, lovasz_hinge_loss: 2, bce_loss: 0.1 };
    assertValue(r.total, 1.5 * Object.entries(w3).reduce((s, [k, w]) => s + w * t[k]!.value, 0), 'three-term total');
    assertGrad(r.grad, weightedGrad(bin, w3, 1.5), 'three-term gradient');
    tf.dispose([logits, labels]);

    // The VOC recipe: 0.2·lovasz_softmax + 0.8·softmax.
    const multi = goldenCase('mix_multi');
    const tm = multi.terms as Record<string, { value: number }>;
    const m = inputs(multi);
    const voc = buildLoss(config({ DATASET: { NUM_CLASSES: 3 }, SOLVER: { LOSS: ['lovasz_softmax_loss', 'softmax_loss'], LOSS_WEIGHT: { LOVASZ_SOFTMAX_LOSS: 0.2, SOFTMAX_LOSS: 0.8 } } }));
    r = evaluate(voc, m.logits, m.labels);
    assertValue(r.total, 0.2 * tm['lovasz_softmax_loss']!.value + 0.8 * tm['softmax_loss']!.value, 'voc total');
    assertGrad(r.grad, weightedGrad(multi, { lovasz_softmax_loss: 0.2, softmax_loss: 0.8 }), 'voc gradient');
    tf.dispose([m.logits, m.labels]);
  });

  test(`buildLoss takes its options from the config: IGNORE_INDEX, LOVASZ.PER_IMAGE/CLASSES, CROSS_ENTROPY_WEIGHT [${backend}]`, async () => {
    await useBackend(backend);
    const cases: Array<[string, SegConfigInput]> = [
      ['hinge_per_image', { DATASET: { NUM_CLASSES: 2 }, SOLVER: { LOSS: ['lovasz_hinge_loss'], LOVASZ: { PER_IMAGE: true } } }],
      ['hinge_ignore_index_9', { DATASET: { NUM_CLASSES: 2, IGNORE_INDEX: 9 }, SOLVER: { LOSS: ['lovasz_hinge_loss'] } }],
      ['lovasz_softmax_all', { DATASET: { NUM_CLASSES: 4 }, SOLVER: { LOSS: ['lovasz_softmax_loss'], LOVASZ: { CLASSES: 'all' } } }],
      ['lovasz_softmax_per_image_all', { DATASET: { NUM_CLASSES: 4 }, SOLVER: { LOSS: ['lovasz_softmax_loss'], LOVASZ: { CLASSES: 'all', PER_IMAGE: true } } }],
      ['softmax_dynamic', { DATASET: { NUM_CLASSES: 4 }, SOLVER: { CROSS_ENTROPY_WEIGHT: 'dynamic' } }],
      ['softmax_weighted', { DATASET: { NUM_CLASSES: 4 }, SOLVER: { CROSS_ENTROPY_WEIGHT: [0.5, 2.0, 1.0, 0.25] } }],
    ];
    for (const [name, input] of cases) {
      const c = goldenCase(name);
      const { logits, labels } = inputs(c);
      const r = evaluate(buildLoss(config(input)), logits, labels);
      assertValue(r.total, c.value, name);
      assertGrad(r.grad, c.grad, name);
      tf.dispose([logits, labels]);
    }
  });

  test(`no tensor is left behind: numTensors is flat over repeated steps, with and without gradients [${backend}]`, async () => {
    await useBackend(backend);
    const x = tf.variable(tf.randomNormal([2, 16, 16, 1], 0, 2, 'float32', 3)) as tf.Variable<tf.Rank.R4>;
    const xm = tf.variable(tf.randomNormal([2, 16, 16, 3], 0, 2, 'float32', 4)) as tf.Variable<tf.Rank.R4>;
    const yb = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 16, 16], 0, 1, 'float32', 5), 0.7), 'int32')) as tf.Tensor3D;
    const ym = tf.randomUniform([2, 16, 16], 0, 3, 'int32', 6) as tf.Tensor3D;
    const binary = buildLoss(config({ DATASET: { NUM_CLASSES: 2 }, SOLVER: { LOSS: ['lovasz_hinge_loss', 'bce_loss', 'dice_loss'] } }));
    const multi = buildLoss(config({ DATASET: { NUM_CLASSES: 3 }, SOLVER: { LOSS: ['lovasz_softmax_loss', 'softmax_loss'], CROSS_ENTROPY_WEIGHT: 'dynamic' } }));
    const step = () => {
      for (const [fn, v, y] of [[binary, x, yb], [multi, xm, ym]] as const) {
        // As the trainer does: variableGrads over the loss, terms kept for the log.
        let kept: tf.Tensor[] = [];
        const { value, grads } = tf.variableGrads(() => {
          const out = fn(v, y);
          kept = Object.values(out.terms).map((t) => tf.keep(t as tf.Tensor));
          return out.total;
        }, [v]);
        tf.dispose([value, ...kept, ...Object.values(grads)]);
        // As the evaluator does: no gradient.
        const ev = fn(v, y);
        tf.dispose([ev.total, ...Object.values(ev.terms)]);
      }
      for (const name of LOSS_NAMES) {
        const binaryLoss = LOSS_HEADS[name] === 'one-channel';
        const v = binaryLoss ? x : xm;
        const y = binaryLoss ? yb : ym;
        const { value, grad } = tf.valueAndGrad((t: tf.Tensor4D) => LOSSES[name].fn(t, y, { perImage: true }))(v);
        tf.dispose([value, grad, LOSSES[name].fn(v, y)]);
      }
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, xm, yb, ym]);
  });

  test(`the value without a gradient (evaluation) equals the value with one [${backend}]`, async () => {
    await useBackend(backend);
    for (const name of ['mix_binary', 'mix_multi']) {
      const c = goldenCase(name);
      const { logits, labels } = inputs(c);
      for (const term of Object.keys(c.terms ?? {})) {
        const fn = LOSSES[term as keyof typeof LOSSES].fn;
        const plain = tf.tidy(() => fn(logits, labels).dataSync()[0] as number);
        const { value, grad } = tf.valueAndGrad((x: tf.Tensor4D) => fn(x, labels))(logits);
        assert.equal(plain, value.dataSync()[0], term);
        tf.dispose([value, grad]);
      }
      tf.dispose([logits, labels]);
    }
  });
}

test('a seg process resolves SOLVER.LOSS "[\'lovasz_hinge_loss\',\'bce_loss\']" for the road config; buildLoss makes the weighted total of it', async () => {
  const r = await runSeg(['config', '--cfg', 'configs/lovasz_hinge_road.yaml', 'SOLVER.LOSS', "['lovasz_hinge_loss','bce_loss']", 'SOLVER.LOSS_WEIGHT.BCE_LOSS', '0.25', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout) as SegConfig;
  assert.deepEqual(cfg.SOLVER.LOSS, ['lovasz_hinge_loss', 'bce_loss']);
  const stage = activeLossStage(cfg, 1);
  assert.equal(stage.describe, 'SOLVER.LOSS: 0.25·bce_loss + 0.5·lovasz_hinge_loss');
  await useBackend('cpu');
  const c = goldenCase('mix_binary');
  const t = c.terms as Record<string, { value: number }>;
  const { logits, labels } = inputs(c);
  const out = buildLoss(cfg, 1)(logits, labels);
  assertValue(out.total.dataSync()[0] as number, 0.5 * t['lovasz_hinge_loss']!.value + 0.25 * t['bce_loss']!.value, 'total from the seg-resolved config');
  tf.dispose([logits, labels, out.total, ...Object.values(out.terms)]);
});
