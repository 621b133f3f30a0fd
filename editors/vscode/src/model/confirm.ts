// Large requests: above `deepseek.confirmAboveTokens` prompt tokens the user sees the estimate
// (the server's `dryRun: true` answer: tokens, cost, model) and decides before anything is sent.
// Pure: no `vscode` import, so it is unit-tested with node's test runner.
import { formatCost } from './format';

/** The server's estimate: `estimatedCost` is an upper bound (every prompt token a cache miss, the whole reply). */
export interface DryRun {
  dryRun: true;
  promptTokens: number;
  maxTokens?: number;
  estimatedCost?: number | { total?: number; rate?: string; pricedAs?: string } | null;
  model?: string | null;
  /** the server's own verdict against its `confirmAboveTokens` */
  confirm?: boolean;
  /** a request the server would refuse anyway: run it and let the server say why */
  error?: { code: string; message: string };
  [key: string]: unknown;
}

export function isDryRun(x: unknown): x is DryRun {
  const o = x as Partial<DryRun> | undefined;
  return !!o && typeof o === 'object' && o.dryRun === true && typeof o.promptTokens === 'number';
}

/** A request of `chars` characters can come near the threshold: ask the server first (a token is
 * about 4 characters of code; the surrounding context adds the rest, so half the threshold). */
export function worthEstimating(chars: number, threshold: number): boolean {
  return threshold > 0 && chars / 4 >= threshold / 2;
}

export function needsConfirm(est: DryRun, threshold: number): boolean {
  if (est.error) { return false; }
  if (typeof est.confirm === 'boolean') { return est.confirm; }
  return threshold > 0 && est.promptTokens > threshold;
}

function costText(est: DryRun): string {
  const c = est.estimatedCost;
  const total = typeof c === 'number' ? c : typeof c?.total === 'number' ? c.total : undefined;
  if (total === undefined) { return ''; }
  const rate = typeof c === 'object' && c?.rate && c.rate !== 'flat' && c.rate !== 'unpriced' ? ` at the ${c.rate} rate` : '';
  return `, at most ${formatCost(total)}${rate}`;
}

/** The modal's question: what is sent, to which model, at what cost, and how to stop asking. */
export function confirmMessage(est: DryRun, what: string): { message: string; detail: string } {
  const tokens = est.promptTokens.toLocaleString('en-US');
  const model = est.model ? ` to ${est.model}` : '';
  const reply = typeof est.maxTokens === 'number' && est.maxTokens > 0 ? ` (the reply: up to ${est.maxTokens.toLocaleString('en-US')} tokens)` : '';
  return {
    message: `DeepSeek: ${what} sends ${tokens} tokens${model}${costText(est)}. Send it?`,
    detail: `That is a large request${reply}. Select less code to send less. ` +
      'The setting deepseek.confirmAboveTokens sets when this question appears (0: never).',
  };
}
