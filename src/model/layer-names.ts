/**
 * Where the layer index sits in each family's canonical parameter names, so layers can be counted,
 * dropped and renumbered without knowing anything else about the tensors.
 *   bert/roberta: [bert.|roberta.]encoder.layer.N.   gpt2: [transformer.]h.N.
 *   llama: [model.]layers.N.                          t5: encoder.block.N. (the decoder is left whole)
 */
const PATTERNS: Record<string, RegExp> = {
  bert: /^((?:.*\.)?encoder\.layer\.)(\d+)(\..*)$/,
  roberta: /^((?:.*\.)?encoder\.layer\.)(\d+)(\..*)$/,
  gpt2: /^((?:transformer\.)?h\.)(\d+)(\..*)$/,
  llama: /^((?:model\.)?layers\.)(\d+)(\..*)$/,
  t5: /^(encoder\.block\.)(\d+)(\..*)$/,
};

/** The layer a tensor belongs to, or -1 for embeddings, norms, heads (and T5's decoder). */
export function layerOf(family: string, name: string): number {
  const m = PATTERNS[family]?.exec(name);
  return m ? Number(m[2]) : -1;
}

/** The same tensor name under a new layer index. */
export function renumber(family: string, name: string, index: number): string {
  const m = PATTERNS[family].exec(name);
  if (!m) throw new Error(`${name} is not a layer tensor of a ${family} model`);
  return `${m[1]}${index}${m[3]}`;
}

/** config.json key holding the (encoder) layer count. */
export function layerCountKey(family: string): string {
  return family === 'gpt2' ? 'n_layer' : family === 't5' ? 'num_layers' : 'num_hidden_layers';
}
