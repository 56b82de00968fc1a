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
 * mapped by name onto the backbone (keras.ts). pdseg's own names (PaddlePaddle parameter files) are
 * recognised and refused with an explanation: seg cannot read Paddle's format.
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
import { readJson, readShards, writeFileSynced, writeShards, type ManifestGroup } from './weights_io.js';
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

/** Named pretrained weights seg can download and convert. */
export const PRETRAINED: Readonly<Record<string, PretrainedEntry>> = Object.freeze({
  'mobilenetv2-1-0_imagenet_keras': {
    url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v2_1.0_224/model.json',
    sha256: null,
    kind: 'tfjs-model',
    multiplier: 1.0,
    summary: 'Keras MobileNetV2 (alpha 1.0) ImageNet weights, tfjs layers format; backbone only (DEPTH_MULTIPLIER 1.0)',
  },
});

/** pdseg's download_model.py names: PaddlePaddle parameter files, which seg cannot read. */
export const PDSEG_PADDLE_NAMES: readonly string[] = Object.freeze([
  'mobilenetv3_large_ssld_imagenet',
  'mobilenetv2-2-0_bn_imagenet',
  'mobilenetv2-1-5_bn_imagenet',
  'mobilenetv2-1-0_bn_imagenet',
  'mobilenetv2-0-5_bn_imagenet',
  'mobilenetv2-0-25_bn_imagenet',
  'mobilenetv3-1-0_large_bn_imagenet',
  'mobilenetv3-1-0_small_bn_imagenet',
  'xception41_imagenet',
  'xception65_imagenet',
  'resnet50_vd_imagenet',
  'deeplabv3p_mobilenetv2-1-0_bn_coco',
  'deeplabv3p_xception65_bn_coco',
  'unet_bn_coco',
  'pspnet50_bn_coco',
  'pspnet101_bn_coco',
  'deeplabv3p_mobilenetv3_large_cityscapes',
  'deeplabv3p_mobilenetv2-1-0_bn_cityscapes',
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
  /** 'keras-layers' (converted) or 'seg' (already seg weights). */
  format: 'keras-layers' | 'seg';
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
    throw usageError(`${name} is a PaddlePaddle parameter archive (pdseg's download_model.py), which seg cannot read`, {
      hint: `use ${Object.keys(PRETRAINED).join(', ')} (ImageNet backbone), or a seg checkpoint as TRAIN.PRETRAINED_MODEL_DIR`,
    });
  }
  const near = nearest(name, Object.keys(PRETRAINED));
  throw usageError(`unknown pretrained model ${JSON.stringify(name)}${near ? ` (did you mean ${near}?)` : ''}`, {
    hint: `known: ${Object.keys(PRETRAINED).join(', ')}; see seg pretrained list, or pass --url for another source`,
  });
}

/** Find the model.json of an unpacked archive (at its top or one folder down). */
function findModelJson(dir: string): string | undefined {
  const top = path.join(dir, 'model.json');
  if (fs.existsSync(top)) return top;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const f = path.join(dir, e.name, 'model.json');
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

/** Convert (or copy) the weights described by `modelJson` into a seg weights folder `out`. */
function convert(modelJson: string, out: string): { format: 'keras-layers' | 'seg'; weights: number; unused: string[] } {
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
    const group = writeShards(out, 'group1', mapped.weights);
    writeFileSynced(path.join(out, 'model.json'), JSON.stringify({ format: WEIGHTS_FORMAT, generatedBy: 'seg pretrained download', weightsManifest: [group] }, null, 1));
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
  if (safeEntryPath(name) === undefined || name.includes('/') || name === '.' || name === '') {
    throw usageError(`invalid pretrained model name ${JSON.stringify(name)}`, { hint: 'a name is one folder name, e.g. mobilenetv2-1-0_imagenet_keras' });
  }
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
        modelJson = findModelJson(source);
        if (!modelJson) throw dataError(`the archive from ${entry.url} holds no model.json`, { hint: 'expected a tfjs layers model or a seg weights folder inside' });
      }
      if (entry.sha256) ctx.log.info(`SHA-256 verified: ${main.sha256}`);
      else ctx.log.warn(`no checksum is pinned for ${entry.url}; its SHA-256 is ${main.sha256} (pass --sha256 to check it next time)`);
      const conv = convert(modelJson, work);
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
  ctx.log.info(`${name}: ${result.weights} weights (${result.format === 'keras-layers' ? 'converted from Keras names' : 'seg weights'}) in ${target}`);
  return result;
}
