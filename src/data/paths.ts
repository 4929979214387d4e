/** The bundled datasets (data/ at the package root, each folder with its SOURCE.md and license). */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const DATA_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data');
export const dataFile = (...parts: string[]) => join(DATA_ROOT, ...parts);
