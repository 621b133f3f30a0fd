// What to decorate in a rewrite region: the lines that differ from the original, and the stream marker.
// Pure: no `vscode` import.

export interface RegionDecorations {
  /** document line numbers (0-based) of region lines that are new or changed */
  changedLines: number[];
  /** where the stream has got to (the region's end) while the rewrite streams; null otherwise */
  marker: { line: number; character: number } | null;
  /** the region's first and last document line */
  firstLine: number;
  lastLine: number;
}

/** Split as LSP/VS Code do: \r\n, \n and \r end a line. */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/**
 * Indices (into `now`) of lines that are not part of a longest common subsequence with `before`.
 * Lines compare with trailing whitespace ignored. O(n*m) on region sizes, which are small; beyond
 * `limit` cells it falls back to a positional comparison.
 */
export function changedLineIndices(before: string[], now: string[], limit = 4_000_000): number[] {
  const a = before.map(l => l.trimEnd());
  const b = now.map(l => l.trimEnd());
  const n = a.length, m = b.length;
  if (n * m > limit) {
    const out: number[] = [];
    for (let j = 0; j < m; j++) { if (a[j] !== b[j]) { out.push(j); } }
    return out;
  }
  // lcs[i][j] = LCS length of a[i:] and b[j:]
  const lcs: Uint32Array[] = [];
  for (let i = 0; i <= n; i++) { lcs.push(new Uint32Array(m + 1)); }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const kept = new Set<number>();
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { kept.add(j); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) { i++; }
    else { j++; }
  }
  const out: number[] = [];
  for (let k = 0; k < m; k++) { if (!kept.has(k)) { out.push(k); } }
  return out;
}

/**
 * The decorations of a rewrite region.
 * @param original the text the region held before the rewrite
 * @param current  the text the region holds now
 * @param start    the region's start in the document
 * @param streaming true while text still arrives: the last (partial) line counts as changed and gets the marker
 */
export function regionDecorations(
  original: string, current: string, start: { line: number; character: number }, streaming: boolean,
): RegionDecorations {
  const now = splitLines(current);
  // a region that ends with a newline has an empty last "line" that is not really part of it
  const trailingEmpty = now.length > 1 && now[now.length - 1] === '';
  const before = splitLines(original);
  if (before.length > 1 && before[before.length - 1] === '') { before.pop(); }
  const body = trailingEmpty ? now.slice(0, -1) : now;
  const changed = new Set(changedLineIndices(before, body));
  if (streaming && body.length > 0 && !trailingEmpty) { changed.add(body.length - 1); }
  if (current === '') { changed.clear(); }
  const changedLines = [...changed].sort((x, y) => x - y).map(k => start.line + k);
  const lastIdx = now.length - 1;
  const endLine = start.line + lastIdx;
  const endChar = lastIdx === 0 ? start.character + now[0].length : now[lastIdx].length;
  return {
    changedLines,
    marker: streaming ? { line: endLine, character: endChar } : null,
    firstLine: start.line,
    lastLine: trailingEmpty ? Math.max(start.line, endLine - 1) : endLine,
  };
}
