/** Every `seg` subcommand, in help order. */
import type { Command } from '../command.js';
import { checkCommand } from './check.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { visCommand } from './vis.js';
import { exportCommand } from './export.js';
import { configCommand } from './config.js';
import { datasetCommand } from './dataset.js';
import { pretrainedCommand } from './pretrained.js';
import { plotCommand } from './plot.js';
import { experimentCommand } from './experiment.js';

export const COMMANDS: readonly Command[] = [
  checkCommand,
  trainCommand,
  evalCommand,
  visCommand,
  exportCommand,
  configCommand,
  datasetCommand,
  pretrainedCommand,
  plotCommand,
  experimentCommand,
];
