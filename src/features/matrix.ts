/** A dense row-major feature matrix: one row per example (sentence, word or edge). */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}
