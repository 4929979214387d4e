/** Locations inside the installed package (embedded model and data), independent of the working directory. */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const EMBEDDED_MODEL = join(PACKAGE_ROOT, 'models', 'stories260K', 'stories260K.bin');
