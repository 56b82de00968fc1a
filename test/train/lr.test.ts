import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../../src/config/schema.js';
import { makeLrSchedule } from '../../src/train/lr.js';

const solver = (over: Record<string, unknown>) => ConfigSchema.parse({ SOLVER: over }).SOLVER;
const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

test('poly: LR·(1 − t/total)^POWER over the real step count, 0 at the end', () => {
  const s = makeLrSchedule(solver({ LR: 0.1, LR_POLICY: 'poly', POWER: 0.9, NUM_EPOCHS: 10 }), 5);
  close(s(0), 0.1);
  close(s(25), 0.1 * Math.pow(0.5, 0.9));
  close(s(49), 0.1 * Math.pow(1 / 50, 0.9));
  close(s(50), 0);
  close(s(60), 0);
});

test("warm-up: pdseg's LR·k/W for steps k = 1..W (never 0), then the decay starts from its beginning", () => {
  const s = makeLrSchedule(solver({ LR: 0.2, LR_POLICY: 'poly', POWER: 1, NUM_EPOCHS: 10, LR_WARMUP: true, LR_WARMUP_STEPS: 10 }), 5);
  close(s(0), 0.02); // pdseg's warm-up counter begins at 1 (solver.py): the first step runs at LR/W
  close(s(4), 0.1);
  close(s(9), 0.2); // the last warm-up step reaches LR
  close(s(10), 0.2); // decay counter 0
  close(s(30), 0.2 * (1 - 20 / 40)); // D = 50 − 10
});

test('piecewise: LR·GAMMA^i at DECAY_EPOCH boundaries', () => {
  const s = makeLrSchedule(solver({ LR: 1, LR_POLICY: 'piecewise', GAMMA: 0.1, DECAY_EPOCH: [2, 4], NUM_EPOCHS: 6 }), 3);
  close(s(5), 1);
  close(s(6), 0.1);
  close(s(11), 0.1);
  close(s(12), 0.01);
});

test('cosine: epoch-stepped half cosine', () => {
  const s = makeLrSchedule(solver({ LR: 1, LR_POLICY: 'cosine', NUM_EPOCHS: 4 }), 10);
  close(s(0), 1);
  close(s(9), 1); // still epoch 0
  close(s(10), 0.5 * (1 + Math.cos(Math.PI / 4)));
  close(s(20), 0.5);
  close(s(39), 0.5 * (1 + Math.cos((3 * Math.PI) / 4)));
});
