import type { Family } from '../../model/config.js';
import type { FamilyBuilder } from '../family.js';
import { buildBert } from './bert.js';
import { buildGpt2 } from './gpt2.js';
import { buildLlama } from './llama.js';
import { buildT5 } from './t5.js';

export const FAMILY_BUILDERS: Record<Family, FamilyBuilder> = {
  bert: buildBert,
  roberta: buildBert,
  gpt2: buildGpt2,
  llama: buildLlama,
  t5: buildT5,
};
