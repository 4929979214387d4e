/**
 * SentencePiece `.model` tokenizers (T5 spiece.model, Llama/Gemma tokenizer.model, ALBERT/DeBERTa-v3
 * spm.model, llama2.c tok*.model) through @agnai/sentencepiece-js: Google's own C++ SentencePiece compiled
 * to WebAssembly (inlined in the package, so nothing is fetched), which runs the model's normalizer and its
 * BPE or unigram encoder exactly. Instantiating the WebAssembly module is asynchronous (once per process);
 * loading a model and encoding are synchronous after that.
 *
 * The package binds no IdToPiece / GetPieceSize, so the piece list and the trainer's special ids are read
 * from the ModelProto with protobufjs. SentencePiece itself adds no special tokens; the frame around a
 * text follows what the Hugging Face slow tokenizers do with the same file, decided from the file:
 *   [CLS] and [SEP] pieces present (ALBERT, DeBERTa-v3): [CLS] a [SEP] (b [SEP])
 *   a BOS id (Llama, Gemma, llama2.c):                   <s> a (<s> b)
 *   no BOS (T5):                                          a </s> (b </s>)
 * tokenizer_config.json's add_bos_token / add_eos_token override the last two, and its do_lower_case /
 * keep_accents / remove_space (ALBERT's text preprocessing, defaults on for model_type albert) apply.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { SentencePieceProcessor, type EmbindObject, type SpmNativeProcessor, type SpmRuntime } from '@agnai/sentencepiece-js';
import { ProbescaleError } from '../util/errors.js';
import type { TextTokenizer } from './tokenizer.js';

/** The parts of sentencepiece_model.proto read here (field numbers and proto2 defaults from that file). */
const schema = protobuf.Root.fromJSON({
  nested: {
    ModelProto: {
      fields: {
        pieces: { rule: 'repeated', type: 'Piece', id: 1 },
        trainerSpec: { type: 'TrainerSpec', id: 2 },
      },
    },
    Piece: {
      fields: {
        piece: { type: 'string', id: 1 },
        score: { type: 'float', id: 2 },
        type: { type: 'int32', id: 3, options: { default: 1 } },
      },
    },
    TrainerSpec: {
      fields: {
        modelType: { type: 'int32', id: 3, options: { default: 1 } },
        unkId: { type: 'int32', id: 40, options: { default: 0 } },
        bosId: { type: 'int32', id: 41, options: { default: 1 } },
        eosId: { type: 'int32', id: 42, options: { default: 2 } },
        padId: { type: 'int32', id: 43, options: { default: -1 } },
      },
    },
  },
}).lookupType('ModelProto');

/** Piece types (ModelProto.SentencePiece.Type). */
const CONTROL = 3;
const MODEL_TYPES: Record<number, string> = { 1: 'unigram', 2: 'bpe', 3: 'word', 4: 'char' };

export interface SentencePieceModelInfo {
  pieces: string[];
  types: number[];
  modelType: string;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
}

export function readSentencePieceModel(path: string): SentencePieceModelInfo {
  const fix = 'the file is not a SentencePiece model (ModelProto), or it was cut short; copy it again from the model repository';
  let msg: protobuf.Message & { pieces?: { piece: string; type: number }[]; trainerSpec?: Record<string, number> };
  try {
    msg = schema.decode(readFileSync(path)) as typeof msg;
  } catch (err) {
    throw new ProbescaleError(`not a SentencePiece model (${(err as Error).message})`, { file: path, fix });
  }
  const pieces = msg.pieces ?? [];
  if (pieces.length === 0) throw new ProbescaleError('SentencePiece model has no pieces', { file: path, fix });
  const spec = (msg.trainerSpec ?? (schema.lookupType('TrainerSpec').create() as unknown)) as Record<string, number>;
  return {
    pieces: pieces.map((p) => p.piece),
    types: pieces.map((p) => p.type),
    modelType: MODEL_TYPES[spec.modelType] ?? `type ${spec.modelType}`,
    unkId: spec.unkId,
    bosId: spec.bosId,
    eosId: spec.eosId,
    padId: spec.padId,
  };
}

let runtime: Promise<SpmRuntime> | undefined;

/** One WebAssembly instance per process; the package's load() is the only way it offers to create one. */
function spmRuntime(firstModel: string): Promise<SpmRuntime> {
  return (runtime ??= (async () => {
    const spp = new SentencePieceProcessor();
    await spp.load(firstModel);
    spp.processor.delete();
    return spp.sentencepiece;
  })().catch((err: unknown) => {
    runtime = undefined; // a later file may load; do not cache the failure
    throw new ProbescaleError(`SentencePiece (WebAssembly) failed to start: ${(err as Error).message}`, { file: firstModel });
  }));
}

let fileCounter = 0;

interface TextOptions {
  /** AlbertTokenizer's quote rewriting (`` and '' -> "). */
  albert: boolean;
  lowerCase: boolean;
  keepAccents: boolean;
  removeSpace: boolean;
  addBos?: boolean;
  addEos?: boolean;
}

function readTokenizerConfig(dir: string): Record<string, unknown> {
  const p = join(dir, 'tokenizer_config.json');
  if (!existsSync(p)) return {};
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ProbescaleError(`not valid JSON (${(err as Error).message})`, { file: p });
  }
}

export class SentencePieceTokenizer implements TextTokenizer {
  readonly kind = 'sentencepiece' as const;
  private lookup = new Map<string, number>();
  /** Special ids before / after one text, and between the two texts of a pair. */
  private frame: { prefix: number[]; suffix: number[]; pairPrefix: number[]; pairSuffix: number[] };

  private constructor(
    private rt: SpmRuntime,
    private proc: SpmNativeProcessor,
    readonly info: SentencePieceModelInfo,
    readonly vocabSize: number,
    private text: TextOptions,
  ) {
    info.pieces.forEach((p, i) => {
      if (!this.lookup.has(p)) this.lookup.set(p, i);
    });
    const cls = this.lookup.get('[CLS]');
    const sep = this.lookup.get('[SEP]');
    const bos = info.bosId >= 0 ? [info.bosId] : [];
    const eos = info.eosId >= 0 ? [info.eosId] : [];
    if (cls !== undefined && sep !== undefined) {
      this.frame = { prefix: [cls], suffix: [sep], pairPrefix: [], pairSuffix: [sep] };
    } else {
      const addBos = text.addBos ?? bos.length > 0;
      const addEos = text.addEos ?? bos.length === 0;
      const pre = addBos ? bos : [];
      const post = addEos ? eos : [];
      this.frame = { prefix: pre, suffix: post, pairPrefix: pre, pairSuffix: post };
    }
  }

  /**
   * `path` is the .model file; `vocab` the model's embedding rows (the file may have fewer pieces: T5
   * appends <extra_id_*> and DeBERTa-v3 [MASK] after the SentencePiece vocabulary).
   */
  static async fromFile(path: string, opts: { vocab?: number; modelType?: string } = {}): Promise<SentencePieceTokenizer> {
    const info = readSentencePieceModel(path);
    if (opts.vocab !== undefined && info.pieces.length > opts.vocab) {
      throw new ProbescaleError(`SentencePiece model has ${info.pieces.length} pieces but the model's vocab_size is ${opts.vocab}`, {
        file: path,
        fix: 'this tokenizer does not belong to the model; copy the tokenizer file from the same model repository',
      });
    }
    const rt = await spmRuntime(path);
    const proc = new rt.SentencePieceProcessor();
    const memName = `/model-${++fileCounter}.model`;
    rt.FS.writeFile(memName, readFileSync(path));
    const status = SentencePieceTokenizer.withView(rt, memName, (v) => proc.Load(v));
    const message = status.ToString();
    status.delete();
    rt.FS.unlink(memName);
    if (message !== 'OK') {
      proc.delete();
      throw new ProbescaleError(`SentencePiece could not load the model (${message})`, { file: path, fix: 'copy the .model file again from the model repository' });
    }
    const cfg = readTokenizerConfig(dirname(path));
    const albert = opts.modelType === 'albert' || cfg.tokenizer_class === 'AlbertTokenizer';
    const bool = (key: string, dflt: boolean | undefined) => (typeof cfg[key] === 'boolean' ? (cfg[key] as boolean) : dflt);
    const text: TextOptions = {
      albert,
      lowerCase: bool('do_lower_case', albert) ?? false,
      keepAccents: bool('keep_accents', !albert) ?? true,
      removeSpace: bool('remove_space', albert) ?? false,
      addBos: bool('add_bos_token', undefined),
      addEos: bool('add_eos_token', undefined),
    };
    return new SentencePieceTokenizer(rt, proc, info, opts.vocab ?? info.pieces.length, text);
  }

  private static withView<T>(rt: SpmRuntime, s: string, fn: (view: EmbindObject) => T): T {
    const sv = new rt.StringView(s);
    const view = sv.getView();
    try {
      return fn(view);
    } finally {
      view.delete();
      sv.delete();
    }
  }

  /** HF AlbertTokenizer.preprocess_text: collapse spaces, `` and '' to ", strip accents, lower-case. */
  private preprocess(text: string): string {
    let t = text;
    if (this.text.removeSpace) t = t.trim().split(/\s+/).join(' ');
    if (this.text.albert) t = t.replace(/``|''/g, '"');
    if (!this.text.keepAccents) t = t.normalize('NFKD').replace(/\p{M}/gu, '');
    if (this.text.lowerCase) t = t.toLowerCase();
    return t;
  }

  private pieceIds(text: string): number[] {
    if (text.length === 0) return [];
    const vec = SentencePieceTokenizer.withView(this.rt, this.preprocess(text), (v) => this.proc.EncodeAsIds(v));
    const ids: number[] = new Array(vec.size());
    for (let i = 0; i < ids.length; i++) ids[i] = vec.get(i);
    vec.delete();
    return ids;
  }

  encode(text: string, opts: { specialTokens?: boolean; pair?: string } = {}): number[] {
    const f = this.frame;
    const special = opts.specialTokens ?? true;
    const a = this.pieceIds(text);
    const out = special ? [...f.prefix, ...a, ...f.suffix] : a;
    if (opts.pair !== undefined) {
      const b = this.pieceIds(opts.pair);
      out.push(...(special ? [...f.pairPrefix, ...b, ...f.pairSuffix] : b));
    }
    return out;
  }

  /** Special (control) pieces and ids past the SentencePiece vocabulary are skipped, as HF's skip_special_tokens does. */
  decode(ids: number[]): string {
    const kept = ids.filter((id) => id >= 0 && id < this.info.pieces.length && this.info.types[id] !== CONTROL);
    const vec = this.rt.vecFromJSArray(kept);
    try {
      return this.proc.DecodeIds(vec);
    } finally {
      vec.delete();
    }
  }

  idToToken(id: number): string {
    return this.info.pieces[id] ?? `<${id}>`;
  }
}
