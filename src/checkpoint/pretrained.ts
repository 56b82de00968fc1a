/**
 * `seg pretrained download NAME`: the counterpart of pdseg's pretrained_model/download_model.py.
 * Downloads a named archive (or a tfjs model.json and its shards), verifies its checksum, unpacks
 * it and converts it to a seg weights folder `pretrained_model/NAME/` that TRAIN.PRETRAINED_MODEL_DIR
 * can point to:
 *
 *   pretrained_model/NAME/model.json        seg weights manifest (names as seg's model uses them)
 *   pretrained_model/NAME/group1-shard*.bin
 *   pretrained_model/NAME/pretrained.json   where it came from: URL, SHA-256, format, mapped/unused weights
 *   pretrained_model/NAME/source/           the downloaded files as they were
 *
 * Known names (PRETRAINED): Keras's MobileNetV2 ImageNet weights in tfjs-converter's layers format,
 * mapped by name onto the backbone (keras.ts), and pdseg's MobileNetV2 archives from the addresses
 * of its download_model.py (PaddlePaddle parameter folders, paddle.ts). pdseg's names for models
 * seg does not build (xception, resnet, mobilenetv3, unet, pspnet) are refused with an explanation.
 * `seg pretrained convert DIR` converts an archive or folder a user already has.
 *
 * The network path was not exercised where seg was developed (no network access); the tests run
 * the whole path against a local HTTP server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { RunContext } from '../util/context.js';
import { dataError, nearest, usageError } from '../util/errors.js';
import { replaceDirAtomicAsync } from '../util/atomic.js';
import { downloadFile, urlFileName, type DownloadResult } from '../util/download.js';
import { extractArchive, safeEntryPath } from '../util/archive.js';
import { isKerasLayersModel, kerasToSegWeights } from './keras.js';
import { readJson, readShards, writeFileSynced, writeShards, type ManifestGroup, type NamedTensor } from './weights_io.js';
import { isPaddleParamDir, paddleToSegWeights, readPaddleParams } from './paddle.js';
import { WEIGHTS_FORMAT } from './checkpoint.js';

export interface PretrainedEntry {
  url: string;
  /** SHA-256 of the file at `url`; null when it is not pinned (then it is printed, not checked). */
  sha256: string | null;
  /** `archive`: a .tar.gz/.tgz/.tar/.zip; `tfjs-model`: a model.json whose shards sit beside it. */
  kind: 'archive' | 'tfjs-model';
  /** The DEPTH_MULTIPLIER the weights fit. */
  multiplier: number;
  summary: string;
}

/** A pdseg download_model.py entry: a PaddlePaddle parameter archive (no checksum is published). */
function pdseg(name: string, url: string, multiplier: number, summary: string): Record<string, PretrainedEntry> {
  return { [name]: { url, sha256: null, kind: 'archive', multiplier, summary: `pdseg's ${summary}; PaddlePaddle parameters` } };
}

/** Named pretrained weights seg can download and convert. */
export const PRETRAINED: Readonly<Record<string, PretrainedEntry>> = Object.freeze({
  'mobilenetv2-1-0_imagenet_keras': {
    url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v2_1.0_224/model.json',
    sha256: null,
    kind: 'tfjs-model',
    multiplier: 1.0,
    summary: 'Keras MobileNetV2 (alpha 1.0) ImageNet weights, tfjs layers format; backbone only (DEPTH_MULTIPLIER 1.0)',
  },
  ...pdseg('mobilenetv2-1-0_bn_imagenet', 'https://paddle-imagenet-models-name.bj.bcebos.com/MobileNetV2_pretrained.tar', 1.0, 'ImageNet MobileNetV2 ×1.0; backbone only'),
  ...pdseg('mobilenetv2-0-5_bn_imagenet', 'https://paddle-imagenet-models-name.bj.bcebos.com/MobileNetV2_x0_5_pretrained.tar', 0.5, 'ImageNet MobileNetV2 ×0.5; backbone only (pdseg rounds channels as int(c·0.5), seg to multiples of 8: layers of other widths stay unloaded)'),
  ...pdseg('mobilenetv2-0-25_bn_imagenet', 'https://paddle-imagenet-models-name.bj.bcebos.com/MobileNetV2_x0_25_pretrained.tar', 0.25, 'ImageNet MobileNetV2 ×0.25; backbone only (channel widths as ×0.5)'),
  ...pdseg('mobilenetv2-1-5_bn_imagenet', 'https://paddle-imagenet-models-name.bj.bcebos.com/MobileNetV2_x1_5_pretrained.tar', 1.5, 'ImageNet MobileNetV2 ×1.5; backbone only'),
  ...pdseg('mobilenetv2-2-0_bn_imagenet', 'https://paddle-imagenet-models-name.bj.bcebos.com/MobileNetV2_x2_0_pretrained.tar', 2.0, 'ImageNet MobileNetV2 ×2.0; backbone only'),
  ...pdseg('deeplabv3p_mobilenetv2-1-0_bn_coco', 'https://paddleseg.bj.bcebos.com/deeplab_mobilenet_x1_0_coco.tgz', 1.0, 'DeepLabv3+/MobileNetV2 ×1.0 trained on COCO (pdseg lovasz recipes start here)'),
  ...pdseg('deeplabv3p_mobilenetv2-1-0_bn_cityscapes', 'https://paddleseg.bj.bcebos.com/models/mobilenet_cityscapes.tgz', 1.0, 'DeepLabv3+/MobileNetV2 ×1.0 trained on Cityscapes'),
});

/** pdseg's download_model.py names for models seg does not build. */
export const PDSEG_PADDLE_NAMES: readonly string[] = Object.freeze([
  'mobilenetv3_large_ssld_imagenet',
  'mobilenetv3-1-0_large_bn_imagenet',
  'mobilenetv3-1-0_small_bn_imagenet',
  'xception41_imagenet',
  'xception65_imagenet',
  'resnet50_vd_imagenet',
  'deeplabv3p_xception65_bn_coco',
  'unet_bn_coco',
  'pspnet50_bn_coco',
  'pspnet101_bn_coco',
  'deeplabv3p_mobilenetv3_large_cityscapes',
  'deeplabv3p_xception65_gn_cityscapes',
  'deeplabv3p_xception65_bn_cityscapes',
  'deeplabv3p_resnet50_vd_cityscapes',
]);

export interface DownloadPretrainedOptions {
  /** Folder the models go to (default `pretrained_model`, relative to the working directory). */
  root?: string;
  /** Replace an existing folder. */
  force?: boolean;
  /** Download from here instead of the catalog's URL (a mirror, a local file:// copy); any NAME is then accepted. */
  url?: string;
  /** Expected SHA-256 (overrides the catalog's). */
  sha256?: string;
  /** For --url: 'archive' or 'tfjs-model' (default: from the URL: *.json → tfjs-model). */
  kind?: PretrainedEntry['kind'];
}

export interface DownloadPretrainedResult {
  name: string;
  dir: string;
  url: string;
  sha256: string;
  /** Whether the SHA-256 was checked against a pinned or given value. */
  verified: boolean;
  /** 'keras-layers' or 'paddle' (converted), or 'seg' (already seg weights). */
  format: SourceFormat;
  weights: number;
  unused: string[];
  /** True when the folder existed and nothing was downloaded. */
  existed: boolean;
}

function entryFor(name: string, opts: DownloadPretrainedOptions): PretrainedEntry {
  if (opts.url) {
    const kind = opts.kind ?? (/\.json(\?|$)/i.test(opts.url) ? 'tfjs-model' : 'archive');
    return { url: opts.url, sha256: opts.sha256 ?? null, kind, multiplier: NaN, summary: `${name} from ${opts.url}` };
  }
  const e = PRETRAINED[name];
  if (e) return { ...e, sha256: opts.sha256 ?? e.sha256 };
  if (PDSEG_PADDLE_NAMES.includes(name)) {
    throw usageError(`${name} (pdseg's download_model.py) holds weights of a model seg does not build (seg builds DeepLabv3+ with MobileNetV2)`, {
      hint: `use one of ${Object.keys(PRETRAINED).join(', ')}, or a seg checkpoint as TRAIN.PRETRAINED_MODEL_DIR`,
    });
  }
  const near = nearest(name, Object.keys(PRETRAINED));
  throw usageError(`unknown pretrained model ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}`, {
    hint: `known: ${Object.keys(PRETRAINED).join(', ')}; see seg pretrained list, or pass --url for another source`,
  });
}

/** A pretrained model's name becomes one folder under the root: nothing that leaves it or nests. */
function checkFolderName(name: string, hint: string): void {
  if (safeEntryPath(name) === undefined || name.includes('/') || name === '.' || name === '') throw usageError(`invalid pretrained model name ${JSON.stringify(name)}`, { hint });
}

/** Where the weights of an unpacked archive are: `dir` itself or a folder one level down that `holds` them. */
function findWeightsDir(dir: string, holds: (d: string) => boolean): string | undefined {
  if (holds(dir)) return dir;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && holds(path.join(dir, e.name))) return path.join(dir, e.name);
  return undefined;
}

export type SourceFormat = 'keras-layers' | 'seg' | 'paddle';
interface Converted {
  format: SourceFormat;
  weights: number;
  unused: string[];
}

/** Write `weights` as a seg weights folder `out`. */
function writeWeights(out: string, weights: readonly NamedTensor[]): void {
  const group = writeShards(out, 'group1', weights);
  writeFileSynced(path.join(out, 'model.json'), JSON.stringify({ format: WEIGHTS_FORMAT, generatedBy: 'seg pretrained', weightsManifest: [group] }, null, 1));
}

/** The weights of an unpacked source: a tfjs model.json (Keras layers or seg weights), or pdseg's Paddle parameter files. */
function convertSource(source: string, out: string, what: string): Converted {
  const tfjsDir = findWeightsDir(source, (d) => fs.existsSync(path.join(d, 'model.json')));
  if (tfjsDir) return convert(path.join(tfjsDir, 'model.json'), out);
  const paddleDir = findWeightsDir(source, isPaddleParamDir);
  if (!paddleDir) throw dataError(`${what} holds neither a model.json nor PaddlePaddle parameter files`, { hint: 'expected a tfjs layers model, seg weights, or a pdseg pretrained_model folder' });
  const mapped = paddleToSegWeights(readPaddleParams(paddleDir));
  try {
    if (mapped.weights.length === 0) throw dataError(`no parameter of ${what} maps onto seg's DeepLabv3+/MobileNetV2`, { hint: "expected pdseg's MobileNetV2 names (conv1_1_weights, conv2_1_dwise_weights, ...)" });
    writeWeights(out, mapped.weights);
    return { format: 'paddle', weights: mapped.weights.length, unused: mapped.unused };
  } finally {
    tf.dispose(mapped.weights.map((w) => w.tensor));
  }
}

/** Convert (or copy) the weights described by `modelJson` into a seg weights folder `out`. */
function convert(modelJson: string, out: string): Converted {
  const manifest = readJson(modelJson, 'model manifest') as { format?: string; weightsManifest?: ManifestGroup[]; modelTopology?: unknown };
  if (!Array.isArray(manifest.weightsManifest)) {
    throw dataError(`${modelJson} has no weightsManifest`, { file: modelJson, hint: 'expected a tfjs layers model (Keras MobileNetV2) or a seg weights folder' });
  }
  if (manifest.format === 'graph-model') {
    throw dataError(`${modelJson} is a tfjs graph model, whose weights seg cannot map onto its backbone`, { file: modelJson, hint: 'use a Keras MobileNetV2 converted with tensorflowjs_converter --input_format keras (a layers model)' });
  }
  const keras = isKerasLayersModel(manifest);
  if (!keras && manifest.format !== WEIGHTS_FORMAT) {
    throw dataError(`${modelJson} is neither a tfjs layers model nor seg weights (format ${JSON.stringify(manifest.format ?? null)})`, { file: modelJson });
  }
  const weights = readShards(path.dirname(modelJson), manifest.weightsManifest, modelJson);
  try {
    const mapped = keras ? kerasToSegWeights(weights) : { weights, unused: [] };
    if (mapped.weights.length === 0) {
      throw dataError(`no weight of ${modelJson} maps onto seg's MobileNetV2 backbone`, { file: modelJson, hint: 'expected Keras MobileNetV2 layer names (Conv1, block_1_expand, ...)' });
    }
    writeWeights(out, mapped.weights);
    return { format: keras ? 'keras-layers' : 'seg', weights: mapped.weights.length, unused: mapped.unused.map((u) => u.name) };
  } finally {
    tf.dispose(weights.map((w) => w.tensor));
  }
}

/**
 * Download, verify, unpack and convert the pretrained model `name` into `<root>/<name>/`
 * (atomically: the folder appears complete or not at all).
 */
export async function downloadPretrained(name: string, opts: DownloadPretrainedOptions, ctx: RunContext): Promise<DownloadPretrainedResult> {
  checkFolderName(name, 'a name is one folder name, e.g. mobilenetv2-1-0_imagenet_keras');
  const entry = entryFor(name, opts);
  const root = path.resolve(opts.root ?? 'pretrained_model');
  const target = path.join(root, name);
  if (fs.existsSync(path.join(target, 'model.json')) && !opts.force) {
    ctx.log.info(`${target} already exists; pass --force to download it again`);
    const info = fs.existsSync(path.join(target, 'pretrained.json')) ? (readJson(path.join(target, 'pretrained.json'), 'pretrained info') as Partial<DownloadPretrainedResult>) : {};
    return { name, dir: target, url: info.url ?? entry.url, sha256: info.sha256 ?? '', verified: info.verified ?? false, format: info.format ?? 'seg', weights: info.weights ?? 0, unused: info.unused ?? [], existed: true };
  }
  // The folder appears complete or not at all; with --force the previous one is replaced.
  const result = await replaceDirAtomicAsync(
    target,
    async (work): Promise<DownloadPretrainedResult> => {
      const source = path.join(work, 'source');
      fs.mkdirSync(source);
      ctx.log.info(`downloading ${name} from ${entry.url}`);
      // No resumable .part: the work folder goes away when anything fails.
      const fetchTo = (url: string, dest: string, label: string, sha256: string | null = null): Promise<DownloadResult> =>
        downloadFile(url, dest, { ...ctx, sha256, label, keepPartial: false });
      let main: DownloadResult;
      let modelJson: string | undefined;
      if (entry.kind === 'tfjs-model') {
        modelJson = path.join(source, 'model.json');
        main = await fetchTo(entry.url, modelJson, 'model.json', entry.sha256);
        const manifest = readJson(modelJson, 'model manifest') as { weightsManifest?: ManifestGroup[] };
        for (const group of manifest.weightsManifest ?? []) {
          for (const p of group.paths) {
            const rel = safeEntryPath(p);
            if (rel === undefined) throw dataError(`${entry.url} names an unsafe shard path ${p}`, { hint: 'the manifest is corrupt' });
            await fetchTo(new URL(p, entry.url).toString(), path.join(source, rel), path.basename(rel));
          }
        }
      } else {
        const fileName = urlFileName(entry.url, 'archive');
        const archive = path.join(work, fileName);
        main = await fetchTo(entry.url, archive, fileName, entry.sha256);
        ctx.log.info(`unpacking ${fileName}`);
        await extractArchive(archive, source, { progress: ctx.progress, signal: ctx.signal });
        fs.rmSync(archive);
      }
      if (entry.sha256) ctx.log.info(`SHA-256 verified: ${main.sha256}`);
      else ctx.log.warn(`no checksum is pinned for ${entry.url}; its SHA-256 is ${main.sha256} (pass --sha256 to check it next time)`);
      const conv = modelJson ? convert(modelJson, work) : convertSource(source, work, `the archive from ${entry.url}`);
      const info = {
        name,
        url: entry.url,
        sha256: main.sha256,
        verified: Boolean(entry.sha256),
        format: conv.format,
        weights: conv.weights,
        unused: conv.unused,
        downloaded: new Date().toISOString(),
      };
      writeFileSynced(path.join(work, 'pretrained.json'), JSON.stringify(info, null, 1));
      return { name, dir: target, url: entry.url, sha256: main.sha256, verified: info.verified, format: conv.format, weights: conv.weights, unused: conv.unused, existed: false };
    },
    (d) => fs.existsSync(path.join(d, 'model.json')),
  );
  ctx.log.info(`${name}: ${result.weights} weights (${FORMAT_TEXT[result.format]}) in ${target}`);
  return result;
}

/** How each source format is described in messages. */
export const FORMAT_TEXT: Readonly<Record<SourceFormat, string>> = { 'keras-layers': 'Keras names mapped onto the backbone', paddle: "pdseg's PaddlePaddle parameters mapped onto seg's names", seg: 'seg weights' };

/**
 * `seg pretrained convert SRC`: an archive (.tar, .tar.gz, .tgz, .zip) or folder a user already has
 * (pdseg's pretrained_model/<name>/, a tfjs layers model) converted into `<root>/<name>/`, atomically.
 */
export async function convertPretrained(src: string, name: string, opts: Pick<DownloadPretrainedOptions, 'root' | 'force'>, ctx: RunContext): Promise<DownloadPretrainedResult> {
  checkFolderName(name, 'a name is one folder name');
  if (!fs.existsSync(src)) throw dataError(`${src}: no such file or folder`, { file: src, hint: 'give an archive or a folder of pretrained weights' });
  const target = path.join(path.resolve(opts.root ?? 'pretrained_model'), name);
  if (fs.existsSync(path.join(target, 'model.json')) && !opts.force) throw usageError(`${target} already exists`, { hint: 'pass --force to replace it, or --name another' });
  const conv = await replaceDirAtomicAsync(
    target,
    async (work): Promise<Converted> => {
      const source = path.join(work, 'source');
      if (fs.statSync(src).isDirectory()) fs.cpSync(src, source, { recursive: true });
      else await extractArchive(src, source, { progress: ctx.progress, signal: ctx.signal });
      const c = convertSource(source, work, src);
      writeFileSynced(path.join(work, 'pretrained.json'), JSON.stringify({ name, source: path.resolve(src), format: c.format, weights: c.weights, unused: c.unused, converted: new Date().toISOString() }, null, 1));
      return c;
    },
    (d) => fs.existsSync(path.join(d, 'model.json')),
  );
  ctx.log.info(`${name}: ${conv.weights} weights (${FORMAT_TEXT[conv.format]}) in ${target}`);
  return { name, dir: target, url: path.resolve(src), sha256: '', verified: false, ...conv, existed: false };
}
