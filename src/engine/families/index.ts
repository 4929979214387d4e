/**
 * The family registry: one FamilySpec per family (see FamilySpec in ../family.ts). A Record over Family, so
 * adding a name to Family without a spec, or a spec without a field, does not compile.
 */
import type { Family } from '../../model/config.js';
import type { FamilySpec } from '../family.js';
import { bert } from './bert.js';
import { roberta } from './roberta.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';
import { t5 } from './t5.js';
import { qwen2 } from './qwen2.js';
import { mistral } from './mistral.js';
import { gemma } from './gemma.js';
import { gemma2 } from './gemma2.js';
import { phi3 } from './phi3.js';
import { gptNeox } from './gpt-neox.js';
import { opt } from './opt.js';
import { distilbert } from './distilbert.js';
import { electra } from './electra.js';
import { phi } from './phi.js';
import { mpnet } from './mpnet.js';
import { albert } from './albert.js';
import { deberta } from './deberta.js';

export const FAMILIES: Record<Family, FamilySpec> = { bert, roberta, gpt2, llama, t5, qwen2, mistral, gemma, gemma2, phi3, 'gpt-neox': gptNeox, opt, distilbert, electra, phi, mpnet, albert, 'deberta-v2': deberta };
