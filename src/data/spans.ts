/**
 * Typed spans from IOB tags, as conlleval reads them: a span starts at B-X, or at I-X after O or after a
 * different type (IOB1 files start spans with I-); it continues over I-X of the same type.
 */
export interface Span {
  type: string;
  start: number;
  end: number;
}

export function spansFromTags(tags: string[]): Span[] {
  const spans: Span[] = [];
  let cur: Span | undefined;
  tags.forEach((tag, i) => {
    const [prefix, type] = tag === 'O' || tag === '' ? ['O', ''] : [tag.slice(0, 1), tag.slice(2)];
    const continues = prefix === 'I' && cur !== undefined && cur.type === type;
    if (cur && !continues) {
      cur.end = i;
      spans.push(cur);
      cur = undefined;
    }
    if ((prefix === 'B' || prefix === 'I') && !continues) cur = { type, start: i, end: i + 1 };
  });
  if (cur) {
    cur.end = tags.length;
    spans.push(cur);
  }
  return spans;
}
