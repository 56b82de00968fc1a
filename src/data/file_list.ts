/**
 * pdseg file lists (`DATASET.TRAIN/VAL/TEST/VIS_FILE_LIST`): UTF-8 text, one sample per line,
 * `image<SEPARATOR>label`, both paths relative to `DATASET.DATA_DIR`. Image-only lines are valid
 * in test and vis lists only. The list file itself is resolved against the working directory (as
 * pdseg does); blank lines are skipped (pdseg choked on them), and every entry remembers its list
 * file and 1-based line number so that data errors can name them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SegConfig } from '../config/schema.js';
import { dataError, SegError } from '../util/errors.js';
import { datasetForDir, missingDatasetHint } from './datasets/registry.js';

/** The data splits seg reads; `vis` uses VIS_FILE_LIST, falling back to TEST_FILE_LIST. */
export type Split = 'train' | 'val' | 'test' | 'vis';

/** One line of a file list. */
export interface ListEntry {
  /** The list file as configured (relative or absolute), for messages. */
  listFile: string;
  /** 1-based line number in `listFile`. */
  line: number;
  /** The image path as written in the list. */
  image: string;
  /** The label path as written in the list, when the line has one. */
  label: string | undefined;
  /** Absolute path of the image (DATA_DIR joined with `image`). */
  imagePath: string;
  /** Absolute path of the label, when the line has one. */
  labelPath: string | undefined;
}

/** A line that does not split into the expected number of parts. */
export interface BadListLine {
  line: number;
  text: string;
  parts: number;
}

export interface ParsedList {
  entries: ListEntry[];
  /** Lines with the wrong number of parts (pdseg's "DATASET.SEPARATOR check"). */
  bad: BadListLine[];
}

/** `file:line`, the way every data error names a list line. */
export function where(e: Pick<ListEntry, 'listFile' | 'line'>): string {
  return `${e.listFile}:${e.line}`;
}

/** The configured list file of a split. */
export function listFileFor(cfg: SegConfig, split: Split): string {
  switch (split) {
    case 'train':
      return cfg.DATASET.TRAIN_FILE_LIST;
    case 'val':
      return cfg.DATASET.VAL_FILE_LIST;
    case 'test':
      return cfg.DATASET.TEST_FILE_LIST;
    case 'vis':
      return cfg.DATASET.VIS_FILE_LIST ?? cfg.DATASET.TEST_FILE_LIST;
  }
}

/** The config key of a split's list, for messages. */
export function listKeyFor(cfg: SegConfig, split: Split): string {
  if (split === 'vis') return cfg.DATASET.VIS_FILE_LIST === null ? 'DATASET.TEST_FILE_LIST' : 'DATASET.VIS_FILE_LIST';
  return `DATASET.${split.toUpperCase()}_FILE_LIST`;
}

/** Whether a split's lines must carry a label (train and val do; test and vis may not). */
export function labelsRequired(split: Split): boolean {
  return split === 'train' || split === 'val';
}

export interface ParseListOptions {
  /** DATASET.DATA_DIR (relative to `cwd`). */
  dataDir: string;
  separator: string;
  /** true: every line needs `image<SEP>label`; false: `image` alone is accepted too. */
  requireLabels: boolean;
  cwd?: string;
}

/**
 * Parse a list's text. Lines are trimmed (pdseg strips them); lines whose part count is wrong go
 * to `bad` instead of throwing, so that `seg check` can report all of them.
 */
export function parseFileList(text: string, listFile: string, opts: ParseListOptions): ParsedList {
  const cwd = opts.cwd ?? process.cwd();
  const dataDir = path.resolve(cwd, opts.dataDir);
  const entries: ListEntry[] = [];
  const bad: BadListLine[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineText = raw.trim();
    if (lineText === '') return;
    const parts = opts.separator === '' ? [lineText] : lineText.split(opts.separator);
    const ok = parts.length === 2 || (!opts.requireLabels && parts.length === 1);
    if (!ok || parts.some((p) => p.trim() === '')) {
      bad.push({ line: i + 1, text: lineText, parts: parts.length });
      return;
    }
    const image = (parts[0] as string).trim();
    const label = parts.length === 2 ? (parts[1] as string).trim() : undefined;
    entries.push({
      listFile,
      line: i + 1,
      image,
      label,
      imagePath: path.resolve(dataDir, image),
      labelPath: label === undefined ? undefined : path.resolve(dataDir, label),
    });
  });
  return { entries, bad };
}

/** Read a list file (relative to `cwd`); a missing or unreadable file is a data error naming the key. */
export function readListText(listFile: string, key: string, cwd: string = process.cwd()): string {
  const abs = path.resolve(cwd, listFile);
  try {
    return fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw dataError(`${key}: cannot read the file list ${listFile}${code === 'ENOENT' ? ': no such file' : `: ${code ?? String(e)}`}`, {
      key,
      file: listFile,
      hint: code === 'ENOENT' ? 'check the path (file lists are relative to the working directory) or create the dataset (see `seg dataset --help`)' : 'check the file permissions',
      cause: e,
    });
  }
}

/**
 * The entries of a split's list. A line with the wrong number of parts is a data error naming the
 * list file and line (train and val need `image<SEP>label`).
 */
export function readSplit(cfg: SegConfig, split: Split, cwd: string = process.cwd()): ListEntry[] {
  const listFile = listFileFor(cfg, split);
  const key = listKeyFor(cfg, split);
  let text: string;
  try {
    text = readListText(listFile, key, cwd);
  } catch (e) {
    // A known dataset that is not there yet: say which command creates it.
    if (e instanceof SegError && datasetForDir(cfg.DATASET.DATA_DIR) && !fs.existsSync(path.resolve(cwd, listFile))) {
      throw dataError(e.message, { key, file: listFile, hint: missingDatasetHint(cfg.DATASET.DATA_DIR), cause: e });
    }
    throw e;
  }
  const parsed = parseFileList(text, listFile, {
    dataDir: cfg.DATASET.DATA_DIR,
    separator: cfg.DATASET.SEPARATOR,
    requireLabels: labelsRequired(split),
    cwd,
  });
  const first = parsed.bad[0];
  if (first) {
    const sep = JSON.stringify(cfg.DATASET.SEPARATOR);
    throw dataError(
      `${listFile}:${first.line}: expected ${labelsRequired(split) ? `image${cfg.DATASET.SEPARATOR}label` : `image or image${cfg.DATASET.SEPARATOR}label`}, got ${first.parts} part(s) split on DATASET.SEPARATOR ${sep}: ${JSON.stringify(first.text)}${parsed.bad.length > 1 ? ` (and ${parsed.bad.length - 1} more bad line(s))` : ''}`,
      {
        file: listFile,
        line: first.line,
        key: 'DATASET.SEPARATOR',
        hint: `check DATASET.SEPARATOR (${sep}) against the list; \`seg check --cfg ...\` lists every bad line`,
      },
    );
  }
  if (parsed.entries.length === 0) {
    throw dataError(`${listFile}: the ${split} list is empty`, { file: listFile, key, hint: `add lines \`image${cfg.DATASET.SEPARATOR}label\` or point ${key} at another list` });
  }
  return parsed.entries;
}
