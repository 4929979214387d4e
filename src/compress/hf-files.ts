/**
 * The files that make a written model usable as-is by Hugging Face transformers and transformers.js:
 * tokenizer files consistent with a trimmed vocabulary, config/generation ids remapped, a healed model
 * marked so that Hugging Face refuses it instead of silently dropping its bridges, and a note of which
 * outputs each tool can load.
 *
 * Trimming renumbers tokenizer.json: every kept piece gets its new id and every removed piece the unknown
 * token's id (vocabularies are piece -> id maps, so several pieces may share one; kept pieces are listed after
 * removed ones so id -> piece reads the kept piece). WordPiece keeps its segmentation exactly. BPE keeps only
 * the merges whose two parts and result are all kept, and the kept set is closed over the merges that build
 * each kept piece (bpeClosure), so text made of kept pieces segments exactly as before, in Rust tokenizers
 * (merges keyed by id pairs, which shared ids would corrupt) and in transformers.js alike; a removed piece
 * comes out as smaller kept pieces, and characters that are not kept as the unknown token.
 */
import type { VocabMap } from './vocab.js';

type Json = Record<string, unknown>;

/** Token ids the tokenizer files mark special (added tokens, the model's unk), and the unknown token's id. */
export function tokenizerSpecials(tokenizer: Json | undefined): { specials: number[]; unk?: number } {
  if (!tokenizer) return { specials: [] };
  const added = ((tokenizer.added_tokens ?? []) as { id: number; content: string; special?: boolean }[]).filter((t) => t.special !== false);
  const model = (tokenizer.model ?? {}) as { type?: string; unk_token?: string; vocab?: Record<string, number> | [string, number][]; unk_id?: number | null };
  let unk: number | undefined;
  if (model.type === 'Unigram') unk = model.unk_id ?? undefined;
  else if (typeof model.unk_token === 'string' && model.vocab && !Array.isArray(model.vocab)) unk = model.vocab[model.unk_token];
  unk ??= added.find((t) => /^(<unk>|\[UNK\]|<\|unk\|>)$/i.test(t.content))?.id;
  return { specials: added.map((t) => t.id), unk };
}

/** Whether tokenizer.json can be rewritten for a trimmed vocabulary (piece -> id vocabularies). */
export function canTrimTokenizer(tokenizer: Json): boolean {
  const type = (tokenizer.model as { type?: string } | undefined)?.type;
  return type === 'BPE' || type === 'WordPiece' || type === 'WordLevel';
}

function mergePairs(model: Json): [string, string][] {
  return ((model.merges ?? []) as (string | [string, string])[]).map((m) => (Array.isArray(m) ? m : (m.split(' ', 2) as [string, string])));
}

/**
 * Ids of every piece the BPE merges pass through while building the given pieces (running the merges on each
 * piece's characters alone gives its derivation: a final piece's span never merged across its edges).
 */
export function bpeClosure(tokenizer: Json | undefined, ids: Iterable<number>): number[] {
  const model = tokenizer?.model as Json | undefined;
  if (!model || model.type !== 'BPE' || Array.isArray(model.vocab)) return [...ids];
  const vocab = model.vocab as Record<string, number>;
  const piece = new Map(Object.entries(vocab).map(([p, id]) => [id, p]));
  const rank = new Map(mergePairs(model).map(([a, b], i) => [`${a}\u0000${b}`, i]));
  const out = new Set<number>();
  for (const id of ids) {
    out.add(id);
    const p = piece.get(id);
    if (p === undefined || /^<0x[0-9A-F]{2}>$/.test(p)) continue;
    const parts = [...p];
    for (const c of parts) if (c in vocab) out.add(vocab[c]);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = rank.get(`${parts[i]}\u0000${parts[i + 1]}`);
        if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
      }
      if (best < 0) break;
      parts.splice(best, 2, parts[best] + parts[best + 1]);
      if (parts[best] in vocab) out.add(vocab[parts[best]]);
    }
  }
  return [...out];
}

function remapId(inv: Map<number, number>, map: VocabMap, id: number): number {
  return inv.get(id) ?? map.fallback;
}

/** tokenizer.json for the trimmed ids: removed pieces -> the fallback (unknown) id; specials renumbered everywhere. */
export function trimTokenizerJson(tokenizer: Json, map: VocabMap): Json {
  const inv = new Map(map.kept.map((orig, j) => [orig, j]));
  const model = tokenizer.model as { vocab: Record<string, number> };
  const removed: [string, number][] = [];
  const kept: [string, number][] = [];
  for (const [piece, id] of Object.entries(model.vocab)) {
    const j = inv.get(id);
    if (j === undefined) removed.push([piece, map.fallback]);
    else kept.push([piece, j]);
  }
  kept.sort((a, b) => a[1] - b[1]);
  const out = structuredClone(tokenizer);
  const outModel = out.model as Json;
  outModel.vocab = Object.fromEntries([...removed, ...kept]);
  if (outModel.type === 'BPE') {
    const keptPieces = new Set(kept.map(([p]) => p));
    outModel.merges = mergePairs(tokenizer.model as Json).filter(([a, b]) => keptPieces.has(a) && keptPieces.has(b) && keptPieces.has(a + b));
    outModel.fuse_unk = false; // one unknown id per character, in every implementation
  }
  out.added_tokens = ((tokenizer.added_tokens ?? []) as { id: number }[]).filter((t) => inv.has(t.id)).map((t) => ({ ...t, id: inv.get(t.id)! }));
  out.post_processor = remapProcessor(tokenizer.post_processor as Json | null, (id) => remapId(inv, map, id));
  return out;
}

/** Special-token ids inside a post-processor (TemplateProcessing, Bert/RobertaProcessing, Sequence). */
function remapProcessor(p: Json | null | undefined, f: (id: number) => number): Json | null {
  if (!p) return null;
  const out = structuredClone(p);
  if (p.type === 'TemplateProcessing') {
    for (const v of Object.values((out.special_tokens ?? {}) as Record<string, { ids: number[] }>)) v.ids = v.ids.map(f);
  } else if (p.type === 'BertProcessing' || p.type === 'RobertaProcessing') {
    for (const k of ['sep', 'cls']) if (Array.isArray(out[k])) (out[k] as [string, number])[1] = f((out[k] as [string, number])[1]);
  } else if (p.type === 'Sequence') {
    out.processors = ((p.processors ?? []) as Json[]).map((q) => remapProcessor(q, f));
  }
  return out;
}

/** tokenizer_config.json: added_tokens_decoder keyed by the new ids. */
export function trimTokenizerConfig(config: Json, map: VocabMap): Json {
  const inv = new Map(map.kept.map((orig, j) => [orig, j]));
  const out = structuredClone(config);
  if (config.added_tokens_decoder) {
    out.added_tokens_decoder = Object.fromEntries(Object.entries(config.added_tokens_decoder as Json).filter(([id]) => inv.has(Number(id))).map(([id, v]) => [String(inv.get(Number(id))), v]));
  }
  return out;
}

const ID_KEYS = ['bos_token_id', 'eos_token_id', 'pad_token_id', 'unk_token_id', 'sep_token_id', 'cls_token_id', 'mask_token_id', 'decoder_start_token_id'];

/** config.json / generation_config.json special ids in the trimmed numbering (a removed id becomes the fallback). */
export function remapConfigIds(config: Json, map: VocabMap): Json {
  const inv = new Map(map.kept.map((orig, j) => [orig, j]));
  const out = { ...config };
  for (const k of ID_KEYS) {
    const v = config[k];
    if (typeof v === 'number') out[k] = remapId(inv, map, v);
    else if (Array.isArray(v)) out[k] = v.map((x) => (typeof x === 'number' ? remapId(inv, map, x) : x));
  }
  return out;
}

/** generation_config.json for a causal LM: its special ids from config.json. */
export function generationConfig(config: Json): Json {
  const out: Json = {};
  for (const k of ['bos_token_id', 'eos_token_id', 'pad_token_id']) if (config[k] !== undefined && config[k] !== null) out[k] = config[k];
  return out;
}

/** Which tools load what was written, printed by the CLI and stored in results. */
export interface HfCompatibility {
  /** Hugging Face transformers' from_pretrained computes the same model (false for healed: it refuses the model_type). */
  transformers: boolean;
  /** transformers.js loads onnx/model.onnx with config.json and the tokenizer. */
  transformersJs: boolean;
  /** tokenizer.json gives the written model's ids (trimmed vocabulary included). */
  tokenizer: boolean;
  notes: string[];
}

export function describeCompatibility(c: HfCompatibility): string {
  const yn = (b: boolean) => (b ? 'yes' : 'no');
  return `Hugging Face from_pretrained: ${yn(c.transformers)}; transformers.js (onnx/model.onnx): ${yn(c.transformersJs)}; tokenizer.json consistent: ${yn(c.tokenizer)}${c.notes.length ? ` (${c.notes.join('; ')})` : ''}`;
}
