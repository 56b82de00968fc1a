import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLiteral } from '../../src/config/literal.js';

test('Python literal forms pdseg accepts', () => {
  const cases: Array<[string, unknown]> = [
    ['(769, 769)', [769, 769]],
    ['[769, 769]', [769, 769]],
    ['(769,769)', [769, 769]],
    ["['lovasz_hinge_loss','bce_loss']", ['lovasz_hinge_loss', 'bce_loss']],
    ['["lovasz_hinge_loss", "bce_loss"]', ['lovasz_hinge_loss', 'bce_loss']],
    ['u"stepscaling"', 'stepscaling'],
    ["u'stepscaling'", 'stepscaling'],
    ['True', true],
    ['False', false],
    ['None', null],
    ['1e-4', 1e-4],
    ['-1e-4', -1e-4],
    ['0.0001', 0.0001],
    ['300', 300],
    ['-3', -3],
    ['2.', 2],
    ['.5', 0.5],
    ['()', []],
    ['(5)', 5],
    ['(5,)', [5]],
    ['1, 2', [1, 2]],
    ["{'BCE_LOSS': 0.3}", { BCE_LOSS: 0.3 }],
    ['[[1, 2], (3, 4)]', [[1, 2], [3, 4]]],
    ['true', true],
    ['null', null],
  ];
  for (const [text, expected] of cases) assert.deepEqual(parseLiteral(text), expected, text);
});

test('non-literals keep their raw text, as literal_eval failures do in pdseg', () => {
  for (const text of ['|', ' ', '', 'stepscaling', './dataset/cityscapes/', 'deeplabv3p', 'dynamic', '5e', '1.2.3', 'a,', '(1, 2', "['a'", '-', 'poly']) {
    assert.equal(parseLiteral(text), text, JSON.stringify(text));
  }
});
