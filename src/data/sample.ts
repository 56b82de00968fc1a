/**
 * One sample, from its list line to augmented typed arrays: decode the image and label, validate
 * them (sizes, label kind, label values), then run the train or eval pipeline. Used on the main
 * thread and inside worker threads (worker.ts), so everything here is plain data: no tfjs, no
 * class instances in the inputs or outputs.
 */
import type { SegConfig } from '../config/schema.js';
import { dataError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { augmentTrain, EvalCropError, pipelineOptions, prepareEval, type PipelineOptions } from './augment.js';
import type { ListEntry } from './file_list.js';
import { readImage, readLabel, type DecodedImage, type DecodedLabel, type ImageType, type RawImage } from './image_io.js';

/** What decoding and augmentation need from the config (structured-clonable, sent to workers). */
export interface DataOptions {
  pipeline: PipelineOptions;
  imageType: ImageType;
  numClasses: number;
  ignoreIndex: number;
}

/** The data options of a resolved config. */
export function dataOptions(cfg: SegConfig): DataOptions {
  return {
    pipeline: pipelineOptions(cfg),
    imageType: cfg.DATASET.IMAGE_TYPE,
    numClasses: cfg.DATASET.NUM_CLASSES,
    ignoreIndex: cfg.DATASET.IGNORE_INDEX,
  };
}

/** A unit of work: one list entry, train (with its augmentation seed) or eval. */
export interface SampleTask {
  entry: ListEntry;
  mode: 'train' | 'eval';
  /** Seed of the sample's Rng (train only). */
  seed: number;
  /** Also return the decoded image at its original size (for vis overlays). */
  keepOriginal?: boolean;
}

/** Where an eval/vis sample sits in its padded crop, and what it looked like before. */
export interface SampleGeometry {
  /** False for image-only test/vis lines (the label is then all IGNORE_INDEX). */
  hasLabel: boolean;
  /** The resized image occupies the top-left validWidth × validHeight of the crop. */
  validWidth: number;
  validHeight: number;
  /** Size of the image file as displayed (EXIF orientation applied). */
  originalWidth: number;
  originalHeight: number;
  /** The decoded image at its original size (8-bit RGB/RGBA), when `keepOriginal` was asked. */
  original?: RawImage;
}

/** A processed sample: crop-sized 8-bit image and int32 labels, plus its geometry. */
export interface ProcessedSample extends SampleGeometry {
  image: Uint8Array;
  label: Int32Array;
  width: number;
  height: number;
  channels: number;
}

/** Value → pixel count of the values outside [0, numClasses-1] ∪ {ignore}. */
export function badLabelValues(data: ArrayLike<number>, numClasses: number, ignore: number): Map<number, number> {
  const bad = new Map<number, number>();
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v < numClasses || v === ignore) continue;
    bad.set(v, (bad.get(v) ?? 0) + 1);
  }
  return bad;
}

const ref = (e: ListEntry) => ({ listFile: e.listFile, line: e.line });

/** Decode and validate an entry's image and label. */
export async function loadPair(entry: ListEntry, opts: DataOptions): Promise<{ image: DecodedImage; label: DecodedLabel | null }> {
  const [image, label] = await Promise.all([
    readImage(entry.imagePath, opts.imageType, ref(entry)),
    entry.labelPath === undefined ? Promise.resolve(null) : readLabel(entry.labelPath, ref(entry)),
  ]);
  if (label && entry.labelPath !== undefined) validateLabel(entry, image, label, opts);
  return { image, label };
}

/** Data errors for a label that cannot train: colour, wrong size, values out of range. */
export function validateLabel(entry: ListEntry, image: Pick<DecodedImage, 'width' | 'height' | 'orientation'>, label: DecodedLabel, opts: Pick<DataOptions, 'numClasses' | 'ignoreIndex'>): void {
  const where = `${entry.listFile}:${entry.line}`;
  const file = entry.labelPath ?? entry.imagePath;
  if (label.kind === 'colour') {
    throw dataError(`label ${file} (${where}) is a colour image; labels must hold class indices`, {
      file: entry.listFile,
      line: entry.line,
      hint: 'save labels as single-channel (gray) or palette PNGs whose pixel values are the class indices',
    });
  }
  if (label.width !== image.width || label.height !== image.height) {
    const rotated = image.orientation >= 5 && label.width === image.height && label.height === image.width;
    throw dataError(`label ${file} is ${label.width}x${label.height} but its image ${entry.imagePath} is ${image.width}x${image.height} (${where})`, {
      file: entry.listFile,
      line: entry.line,
      hint: rotated
        ? `the image has EXIF orientation ${image.orientation} (shown rotated); save the label in the orientation the image is displayed, or remove the image's orientation tag`
        : 'an image and its label must have the same size; fix or remove this line',
    });
  }
  const bad = badLabelValues(label.data, opts.numClasses, opts.ignoreIndex);
  if (bad.size > 0) {
    const values = [...bad.keys()].sort((a, b) => a - b);
    throw dataError(
      `label ${file} (${where}) has value(s) ${values.slice(0, 8).join(', ')}${values.length > 8 ? ', ...' : ''} outside [0, ${opts.numClasses - 1}] (DATASET.NUM_CLASSES ${opts.numClasses}, DATASET.IGNORE_INDEX ${opts.ignoreIndex})`,
      {
        file: entry.listFile,
        line: entry.line,
        key: 'DATASET.NUM_CLASSES',
        hint: values.every((v) => v === 255 || v === 1) && opts.numClasses === 2 && opts.ignoreIndex !== 255
          ? 'a 0/255 mask: map 255 to 1, or set DATASET.IGNORE_INDEX 255'
          : 'label pixels must be class indices 0..NUM_CLASSES-1 or IGNORE_INDEX; `seg check` lists every bad file',
      },
    );
  }
}

/** Load, validate and augment one sample. */
export async function processTask(task: SampleTask, opts: DataOptions): Promise<ProcessedSample> {
  const { entry } = task;
  const { image, label } = await loadPair(entry, opts);
  const imagePlane = { data: image.data, width: image.width, height: image.height, channels: image.channels };
  const labelPlane = label ? { data: label.data, width: label.width, height: label.height } : null;
  const original = task.keepOriginal ? { data: new Uint8Array(image.data), width: image.width, height: image.height, channels: image.channels } : undefined;
  if (task.mode === 'train') {
    if (!labelPlane) throw dataError(`${entry.listFile}:${entry.line}: a training line needs a label`, { file: entry.listFile, line: entry.line });
    const s = augmentTrain(imagePlane, labelPlane, opts.pipeline, new Rng(task.seed));
    return { ...s, hasLabel: true, validWidth: s.width, validHeight: s.height, originalWidth: image.width, originalHeight: image.height, ...(original ? { original } : {}) };
  }
  try {
    const s = prepareEval(imagePlane, labelPlane, opts.pipeline);
    return { ...s, hasLabel: labelPlane !== null, ...(original ? { original } : {}) };
  } catch (e) {
    if (e instanceof EvalCropError) {
      throw dataError(`image ${entry.imagePath} (${entry.listFile}:${entry.line}) is ${image.width}x${image.height}, ${e.message}`, {
        file: entry.listFile,
        line: entry.line,
        key: 'EVAL_CROP_SIZE',
        hint: `raise EVAL_CROP_SIZE to at least (${e.resized[0]}, ${e.resized[1]}) (\`seg check\` computes the size every image needs), or set TEST.MODE whole or slide to evaluate images of any size`,
      });
    }
    throw e;
  }
}
