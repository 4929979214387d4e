/**
 * Where the layer index sits in a family's canonical parameter names (its spec's layerPattern), so layers
 * can be counted, dropped and renumbered without knowing anything else about the tensors.
 */
import type { Family } from './config.js';
import { FAMILIES } from '../engine/families/index.js';
import { specLayerOf, specRenumber } from '../engine/family.js';

/** The layer a tensor belongs to, or -1 for embeddings, norms, heads (and T5's decoder). */
export function layerOf(family: Family, name: string): number {
  return specLayerOf(FAMILIES[family], name);
}

/** The same tensor name under a new layer index. */
export function renumber(family: Family, name: string, index: number): string {
  return specRenumber(FAMILIES[family], name, index);
}

/** config.json key holding the (encoder) layer count. */
export function layerCountKey(family: Family): string {
  return FAMILIES[family].layerCountKey;
}
