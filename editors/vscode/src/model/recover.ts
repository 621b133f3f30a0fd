// The recovery journal (`deepseek.recover`) and verified restore as the client shows them: what the
// QuickPick lists, what each result says, when an original the document lost must be offered back.
// Pure: no `vscode` import, so it is unit-tested with node's test runner.
import type { LspRange } from './stream';

export type RecoverStatus = 'pending' | 'restored' | 'unchanged' | 'conflict' | 'failed';

/** One journal entry as `deepseek.recover` returns it (docs/protocol.md, "Recovery"). */
export interface RecoverEntry {
  id: string;
  uri: string;
  /** where the original stood when the rewrite started */
  range: LspRange;
  /** the original code */
  original: string;
  /** e.g. "DeepSeek: Add docstring" */
  title: string;
  /** ISO 8601 */
  startedAt: string;
  status: RecoverStatus;
  /** what happened, fit to show */
  message: string;
}

const STATUSES: readonly RecoverStatus[] = ['pending', 'restored', 'unchanged', 'conflict', 'failed'];

function isPosition(v: unknown): boolean {
  const p = v as { line?: unknown; character?: unknown } | null;
  return !!p && typeof p.line === 'number' && typeof p.character === 'number';
}

function isRange(v: unknown): v is LspRange {
  const r = v as { start?: unknown; end?: unknown } | null;
  return !!r && isPosition(r.start) && isPosition(r.end);
}

/** The entries of a `deepseek.recover` result; malformed entries are dropped rather than trusted. */
export function parseRecoverResult(result: unknown): RecoverEntry[] {
  const entries = (result as { entries?: unknown } | null | undefined)?.entries;
  if (!Array.isArray(entries)) { return []; }
  const out: RecoverEntry[] = [];
  for (const e of entries as Record<string, unknown>[]) {
    if (!e || typeof e !== 'object' || typeof e.id !== 'string' || typeof e.uri !== 'string'
      || typeof e.original !== 'string' || !isRange(e.range)) { continue; }
    const status = STATUSES.includes(e.status as RecoverStatus) ? e.status as RecoverStatus : 'failed';
    out.push({
      id: e.id, uri: e.uri, range: e.range, original: e.original,
      title: typeof e.title === 'string' ? e.title : 'DeepSeek rewrite',
      startedAt: typeof e.startedAt === 'string' ? e.startedAt : '',
      status,
      message: typeof e.message === 'string' ? e.message : '',
    });
  }
  return out;
}

/** The last path segment of a URI, decoded ("geo.py"). */
export function fileName(uri: string): string {
  const path = uri.replace(/[?#].*$/, '');
  const last = path.slice(path.lastIndexOf('/') + 1) || path;
  try { return decodeURIComponent(last); } catch { return last; }
}

/** "src/geo.py:4": the file (as `relPath` names it) and the 1-based line where the region starts. */
export function where(uri: string, range: LspRange | undefined, relPath: (uri: string) => string = fileName): string {
  return range ? `${relPath(uri)}:${range.start.line + 1}` : relPath(uri);
}

/** "Add docstring" from "DeepSeek: Add docstring": the client already says "DeepSeek". */
export function shortTitle(title: string): string {
  return title.replace(/^DeepSeek:\s*/, '') || title;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** When a rewrite started, in local time: "today 14:03", "yesterday 09:12", "2025-01-02 14:03". */
export function formatStarted(iso: string, now: Date = new Date()): string {
  const t = new Date(iso);
  if (!iso || Number.isNaN(t.getTime())) { return iso || 'unknown time'; }
  const hm = `${pad(t.getHours())}:${pad(t.getMinutes())}`;
  const day = (d: Date) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (day(t) === day(now)) { return `today ${hm}`; }
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  if (day(t) === day(yesterday)) { return `yesterday ${hm}`; }
  return `${day(t)} ${hm}`;
}

export interface RecoverPickItem {
  label: string;
  description: string;
  detail: string;
  picked: boolean;
  id: string;
}

/** One QuickPick row: file:line, the rewrite's title, when it started and how long the original is. */
export function pickItem(e: RecoverEntry, relPath: (uri: string) => string = fileName, now: Date = new Date()): RecoverPickItem {
  const lines = e.original === '' ? 0 : e.original.split('\n').length - (e.original.endsWith('\n') ? 1 : 0);
  return {
    label: where(e.uri, e.range, relPath),
    description: shortTitle(e.title),
    detail: `started ${formatStarted(e.startedAt, now)} · original: ${lines} line${lines === 1 ? '' : 's'}`,
    picked: true,
    id: e.id,
  };
}

export type Severity = 'info' | 'warning' | 'error';

export interface Report {
  severity: Severity;
  text: string;
  /** offer "Open Original" / "Copy Original": the original is not in the document */
  offerOriginal: boolean;
}

const DEFAULT_MESSAGES: Record<RecoverStatus, string> = {
  pending: 'not recovered yet.',
  restored: 'the original code is back.',
  unchanged: 'the document already holds the original code.',
  conflict: 'the code there was edited since, so the original was not put back automatically.',
  failed: 'the original code could not be put back.',
};

/** What the user is told about one `deepseek.recover` result. */
export function resultReport(e: RecoverEntry, relPath: (uri: string) => string = fileName): Report {
  const text = e.message || DEFAULT_MESSAGES[e.status];
  // the server's message usually names the place already ("geo.py:4: the original code is back")
  const head = text.includes(fileName(e.uri)) ? `DeepSeek: ${text}`
    : `DeepSeek: ${where(e.uri, e.range, relPath)} (${shortTitle(e.title)}): ${text}`;
  switch (e.status) {
    case 'restored':
    case 'unchanged':
    case 'pending':
      return { severity: 'info', text: head, offerOriginal: false };
    case 'conflict':
      return { severity: 'warning', text: `${head} Open or copy the original to put it back by hand.`, offerOriginal: true };
    default:
      return { severity: 'error', text: `${head} Open or copy the original to put it back by hand.`, offerOriginal: true };
  }
}

/** "2 restored, 1 conflict" (for logs and the end of a recover run). */
export function summary(entries: RecoverEntry[]): string {
  const counts = new Map<RecoverStatus, number>();
  for (const e of entries) { counts.set(e.status, (counts.get(e.status) ?? 0) + 1); }
  return STATUSES.filter(s => counts.has(s)).map(s => `${counts.get(s)} ${s}`).join(', ');
}

/** The fields of a finished rewrite that matter here (a JobStream fits). */
export interface FinishedRewrite {
  uri?: string;
  range?: LspRange;
  error?: { code: string; message: string };
  original?: string;
  done: boolean;
}

/**
 * A finished rewrite whose original the document lost (`restore_failed`, or any final carrying
 * `original` that the document does not hold at `range`): what to tell the user, or undefined.
 * `rangeText` is the document's text at the job's range now (undefined: the document is not open).
 */
export function lostOriginalReport(job: FinishedRewrite, rangeText: string | undefined,
  relPath: (uri: string) => string = fileName): Report | undefined {
  if (!job.done || typeof job.original !== 'string') { return undefined; }
  if (rangeText !== undefined && rangeText === job.original) { return undefined; } // it is back after all
  const at = job.uri ? where(job.uri, job.range, relPath) : 'the document';
  const why = failureText(job.error?.message, job.original) || 'The original code could not be put back.';
  return {
    severity: 'error',
    text: `DeepSeek: ${why}${/[.!?]$/.test(why) ? '' : '.'} (${at}: Open Original / Copy Original.)`,
    offerOriginal: true,
  };
}

/** the server's failure message, fit for a one-line notification: the original code it quotes is
 * left out (the message's actions offer it), and so is a leading "DeepSeek:" */
export function failureText(message: string | undefined, original: string): string {
  let t = (message ?? '').trim().replace(/^DeepSeek:\s*/, '');
  const quoted = original.length > 2000 ? original.slice(0, 2000) : original; // the server quotes 2,000 characters
  if (quoted.trim() && t.includes(quoted)) {
    t = t.split(quoted).join(' ').replace(/\s*…/, ' ');
    t = t.replace(/\s*Your original code was:\s*/i, ' ');
  }
  return t.replace(/\s+/g, ' ').trim();
}

/** The CodeLens title for a review with warnings: the first one, shortened, and how many more. */
export function warningLensTitle(warnings: string[], max = 60): string {
  if (!warnings.length) { return ''; }
  const first = warnings[0].length > max ? warnings[0].slice(0, max - 1) + '…' : warnings[0];
  return `$(warning) ${first}${warnings.length > 1 ? ` (+${warnings.length - 1} more)` : ''}`;
}

/** The warning message for a rewrite that ended in review because of `warnings`. */
export function warningsReport(warnings: string[], at: string): string {
  return `DeepSeek: check the rewrite of ${at} before you accept it: ${warnings.join('; ')}`;
}

/**
 * Messages the client already said with more to offer (the lost original's actions): the server's
 * `window/showMessage` about the same failure is then not shown a second time.
 */
export class MessageDedupe {
  private covered: { text: string; at: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  /** `text` (e.g. a job's error message) was said at `now`. */
  cover(text: string | undefined, now: number = Date.now()): void {
    const t = text?.trim();
    if (t) { this.covered.push({ text: t, at: now }); }
  }

  /** whether `message` repeats something covered within the window (each cover silences one message) */
  take(message: string, now: number = Date.now()): boolean {
    this.covered = this.covered.filter(c => now - c.at <= this.windowMs);
    const i = this.covered.findIndex(c => message.includes(c.text));
    if (i < 0) { return false; }
    this.covered.splice(i, 1);
    return true;
  }
}
