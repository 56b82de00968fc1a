import * as path from 'node:path';
import type { Command } from '../command.js';
import { usageError } from '../../util/errors.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export const pretrainedCommand: Command = {
  name: 'pretrained',
  describe: 'download pretrained weights into pretrained_model/',
  subcommands: [
    {
      name: 'download <name>',
      describe: 'download, verify, unpack and convert a named pretrained model into pretrained_model/<name>/',
      positionals: { name: { type: 'string', describe: 'model name (see seg pretrained list)' } },
      options: {
        url: { type: 'string', requiresArg: true, describe: 'download from this address instead (a mirror, or file:///path for a copy fetched by hand)' },
        sha256: { type: 'string', requiresArg: true, describe: 'expected SHA-256 of the downloaded file (64 hex digits)' },
        dir: { type: 'string', requiresArg: true, default: 'pretrained_model', describe: 'folder the models go to' },
        force: { type: 'boolean', default: false, describe: 'download again when the folder exists' },
      },
      examples: [
        ['seg pretrained download mobilenetv2-1-0_imagenet_keras', 'Keras ImageNet MobileNetV2 weights for TRAIN.PRETRAINED_MODEL_DIR'],
        ['seg pretrained download deeplabv3p_mobilenetv2-1-0_bn_coco', "pdseg's COCO DeepLabv3+ (PaddlePaddle parameters)"],
        ['seg pretrained download my_backbone --url file:///tmp/mobilenet_v2.tar.gz --sha256 <hex>', 'a local archive of a tfjs layers model'],
      ],
      async run(args, env) {
        const name = String(args['name'] ?? '');
        const sha256 = str(args['sha256']);
        if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
          throw usageError(`--sha256 expects 64 hexadecimal digits, got ${JSON.stringify(sha256)}`, { hint: 'sha256sum FILE prints it' });
        }
        const url = str(args['url']);
        const { downloadPretrained, FORMAT_TEXT } = await import('../../checkpoint/pretrained.js');
        // Converting and checking weights needs a tfjs backend; the plain cpu one is enough.
        const { initBackend } = await import('../../backend/index.js');
        await initBackend({ backend: 'cpu' });
        const result = await downloadPretrained(
          name,
          {
            root: str(args['dir']) ?? 'pretrained_model',
            force: args['force'] === true,
            ...(url !== undefined ? { url } : {}),
            ...(sha256 !== undefined ? { sha256 } : {}),
          },
          env.ctx,
        );
        if (args.json) {
          env.out(JSON.stringify(result));
        } else {
          const rel = path.relative(process.cwd(), result.dir) || '.';
          env.out(
            result.existed
              ? `${rel}: already present (use --force to download again)`
              : `${rel}: ${result.weights} weights (${FORMAT_TEXT[result.format]}${result.unused.length ? `; ${result.unused.length} unused` : ''}); SHA-256 ${result.sha256} ${result.verified ? 'verified' : 'not pinned'}\nuse it with TRAIN.PRETRAINED_MODEL_DIR ${rel}`,
          );
        }
        return 0;
      },
    },
    {
      name: 'convert <src>',
      describe: "convert an archive or folder you already have (pdseg's pretrained_model/<name>/, a tfjs layers model) into pretrained_model/<name>/",
      positionals: { src: { type: 'string', describe: 'archive (.tar, .tar.gz, .tgz, .zip) or folder' } },
      options: {
        name: { type: 'string', requiresArg: true, describe: 'folder name under --dir (default: the archive or folder name)' },
        dir: { type: 'string', requiresArg: true, default: 'pretrained_model', describe: 'folder the models go to' },
        force: { type: 'boolean', default: false, describe: 'replace the folder when it exists' },
      },
      examples: [['seg pretrained convert ~/PaddleSeg/pretrained_model/deeplabv3p_mobilenetv2-1-0_bn_coco', "pdseg's folder as seg weights"]],
      async run(args, env) {
        const src = String(args['src']);
        const name = str(args['name']) ?? path.basename(src).replace(/\.(tar\.gz|tgz|tar|zip)$/i, '');
        const { convertPretrained, FORMAT_TEXT } = await import('../../checkpoint/pretrained.js');
        const { initBackend } = await import('../../backend/index.js');
        await initBackend({ backend: 'cpu' });
        const r = await convertPretrained(src, name, { root: str(args['dir']) ?? 'pretrained_model', force: args['force'] === true }, env.ctx);
        if (args.json) env.out(JSON.stringify(r));
        else {
          const rel = path.relative(process.cwd(), r.dir) || '.';
          env.out(`${rel}: ${r.weights} weights (${FORMAT_TEXT[r.format]}${r.unused.length ? `; unused: ${r.unused.join(', ')}` : ''})\nuse it with TRAIN.PRETRAINED_MODEL_DIR ${rel}`);
        }
        return 0;
      },
    },
    {
      name: 'list',
      describe: 'list the pretrained models seg can download',
      async run(args, env) {
        const { PRETRAINED } = await import('../../checkpoint/pretrained.js');
        if (args.json) {
          env.out(JSON.stringify(PRETRAINED));
        } else {
          for (const [name, e] of Object.entries(PRETRAINED)) env.out(`${name}\n  ${e.summary}\n  ${e.url}${e.sha256 ? '' : ' (checksum not pinned)'}`);
        }
        return 0;
      },
    },
  ],
};
