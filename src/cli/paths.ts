/** Locations inside the installed package (embedded model and data), independent of the working directory. */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EMBEDDED_MODEL = join(PACKAGE_ROOT, 'models', 'stories260K', 'stories260K.bin');
/** The 12-layer test beds trained by `npm run pretrain` (ONNX-autodiff trainer, bundled text). */
export const MINI_ROBERTA = join(PACKAGE_ROOT, 'models', 'mini-roberta');
export const MINI_GPT = join(PACKAGE_ROOT, 'models', 'mini-gpt');
/** The suite's best test bed: 12 x 128 GPT-2 whose layers pass the probes (models/gpt-l12/MODEL.md). */
export const GPT_L12 = join(PACKAGE_ROOT, 'models', 'gpt-l12');
