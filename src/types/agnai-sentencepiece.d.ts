/**
 * Types for @agnai/sentencepiece-js (it ships none): Google's SentencePiece compiled to WebAssembly with
 * embind. Only what src/model/sentencepiece.ts uses is declared; every embind object must be delete()d.
 */
declare module '@agnai/sentencepiece-js' {
  export interface EmbindObject {
    delete(): void;
  }
  interface SpmVector<T> extends EmbindObject {
    size(): number;
    get(i: number): T;
  }
  interface SpmStatus extends EmbindObject {
    ToString(): string;
  }
  interface SpmStringView extends EmbindObject {
    getView(): EmbindObject;
  }
  export interface SpmNativeProcessor extends EmbindObject {
    Load(path: EmbindObject): SpmStatus;
    EncodeAsIds(text: EmbindObject): SpmVector<number>;
    DecodeIds(ids: SpmVector<number>): string;
    PieceToId(piece: EmbindObject): number;
  }
  /** The instantiated WebAssembly module. */
  export interface SpmRuntime {
    FS: { writeFile(path: string, data: Uint8Array): void; unlink(path: string): void };
    StringView: new (s: string) => SpmStringView;
    SentencePieceProcessor: new () => SpmNativeProcessor;
    vecFromJSArray(ids: number[]): SpmVector<number>;
  }
  export class SentencePieceProcessor {
    /** Set by load(). */
    sentencepiece: SpmRuntime;
    processor: SpmNativeProcessor;
    /** Instantiates the WebAssembly module (asynchronous) and loads the model file into it (its status is dropped). */
    load(path: string): Promise<void>;
    encodeIds(text: string): number[];
    decodeIds(ids: number[]): string;
  }
}
