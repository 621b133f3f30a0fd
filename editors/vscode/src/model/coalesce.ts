// VS Code reports one applied workspace edit as several minimal changes in one didChange event
// (sorted from the end of the document, all in the coordinates before the event). The server's
// rewrite tracking recognises its own edit more reliably as ONE change, so while a rewrite runs
// in a document we send the event's changes as a single equivalent change. Pure.

export interface OffsetChange { rangeOffset: number; rangeLength: number; text: string }

/** The span [start, end) of the old text that the changes cover, and its length in the new text. */
export function coalescedSpan(changes: readonly OffsetChange[]): { start: number; end: number; newLength: number } {
  let start = Infinity, end = -Infinity, delta = 0;
  for (const c of changes) {
    start = Math.min(start, c.rangeOffset);
    end = Math.max(end, c.rangeOffset + c.rangeLength);
    delta += c.text.length - c.rangeLength;
  }
  return { start, end, newLength: end - start + delta };
}

/** Apply non-overlapping changes given in old-text coordinates (as VS Code reports them). */
export function applyChanges(old: string, changes: readonly OffsetChange[]): string {
  const sorted = [...changes].sort((a, b) => b.rangeOffset - a.rangeOffset);
  let out = old;
  for (const c of sorted) { out = out.slice(0, c.rangeOffset) + c.text + out.slice(c.rangeOffset + c.rangeLength); }
  return out;
}
