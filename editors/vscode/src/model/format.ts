// Numbers for people: tokens, cache-hit share, cost, usage lines. Pure.
import type { Usage } from './stream';

export function formatTokens(n: number | undefined): string {
  if (!n) { return '0'; }
  if (n < 1000) { return String(n); }
  if (n < 100_000) { return (n / 1000).toFixed(1).replace(/\.0$/, '') + 'k'; }
  if (n < 1_000_000) { return Math.round(n / 1000) + 'k'; }
  return (n / 1_000_000).toFixed(1).replace(/\.0$/, '') + 'M';
}

export function formatCost(usd: number | null | undefined): string {
  if (usd === undefined || usd === null || Number.isNaN(usd)) { return '$0'; }
  if (usd === 0) { return '$0'; }
  if (usd < 0.0001) { return '<$0.0001'; }
  if (usd < 0.01) { return '$' + usd.toFixed(4); }
  return '$' + usd.toFixed(2);
}

/** share of prompt tokens served from DeepSeek's context cache, 0..1, or undefined */
export function cacheHitShare(u: Usage | undefined): number | undefined {
  if (!u) { return undefined; }
  if (typeof u.cacheHitShare === 'number') { return u.cacheHitShare as number; }
  const hit = u.promptCacheHitTokens ?? 0, miss = u.promptCacheMissTokens ?? 0;
  if (hit + miss > 0) { return hit / (hit + miss); }
  if (u.promptTokens) { return hit / u.promptTokens; }
  return undefined;
}

export function formatPercent(share: number | undefined): string {
  return share === undefined ? '–' : Math.round(share * 100) + '%';
}

/** "1.2k in (85% cached) · 340 out · $0.0012"; "~1.2k in · ~340 out (estimated) · cost unknown …"
 *  when the server reported no usage (a local llama.cpp) and the model has no price */
export function usageLine(u: Usage | undefined): string {
  if (!u) { return ''; }
  const approx = u.estimated === true ? '~' : '';
  const parts = [`${approx}${formatTokens(u.promptTokens)} in`];
  const share = approx ? undefined : cacheHitShare(u);
  if (share !== undefined) { parts[0] += ` (${formatPercent(share)} cached)`; }
  let out = `${approx}${formatTokens(u.completionTokens)} out`;
  if (u.reasoningTokens) { out += ` (${formatTokens(u.reasoningTokens)} thinking)`; }
  if (approx) { out += ' (estimated)'; }
  parts.push(out);
  if (typeof u.cost === 'number' || u.rate === 'unpriced') { parts.push(costWithRate(u.cost, u.rate)); }
  return parts.join(' · ');
}

const RATE_NAMES: Record<string, string> = { peak: 'peak rate', 'off-peak': 'off-peak rate' };

/** "$0.0012 (peak rate)": which of DeepSeek's time-of-day prices applied; "cost unknown" without a price */
export function costWithRate(cost: number | null | undefined, rate: unknown): string {
  if (rate === 'unpriced' || cost === null) { return 'cost unknown (no price for this model)'; }
  const name = typeof rate === 'string' ? RATE_NAMES[rate] : undefined;
  return name ? `${formatCost(cost)} (${name})` : formatCost(cost);
}

/** the session's cost split by rate: "$0.0030 ($0.0020 peak rate, $0.0010 off-peak rate)" */
export function sessionCost(u: Usage | undefined): string {
  const byRate = (u?.byRate ?? {}) as Record<string, { cost?: number } | undefined>;
  const rates = Object.keys(byRate).filter(r => r !== 'flat' && byRate[r]);
  if (rates.length === 1) { return costWithRate(u?.cost, rates[0]); }
  const parts = rates.filter(r => RATE_NAMES[r]).map(r => `${formatCost(byRate[r]?.cost)} ${RATE_NAMES[r]}`);
  return parts.length ? `${formatCost(u?.cost)} (${parts.join(', ')})` : formatCost(u?.cost);
}

/** the status bar's text after the label: "12k tok · 85% cache · $0.01" (empty when nothing was used);
 *  "~12k tok" when some counts are estimates and no request had a price */
export function statusSummary(u: Usage | undefined): string {
  if (!u) { return ''; }
  const tokens = (u.promptTokens ?? 0) + (u.completionTokens ?? 0);
  if (!tokens) { return ''; }
  const estimated = (u.estimatedRequests ?? 0) > 0;
  const parts = [`${estimated ? '~' : ''}${formatTokens(tokens)} tok`];
  if (!estimated) { parts.push(`${formatPercent(cacheHitShare(u))} cache`); }
  if (u.cost !== null) { parts.push(formatCost(u.cost)); } // null: no request had a price
  return parts.join(' · ');
}
