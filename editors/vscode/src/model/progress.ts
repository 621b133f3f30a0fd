// Work-done progress of jobs: the server names a job's progress token `deepseek-<jobId>`, so the
// client can end a job's progress itself once the job needs no more waiting (review, done).
// Pure: no `vscode` import, so it is unit-tested with node's test runner.
import type { JobState } from './stream';

/** the job a progress token belongs to, or undefined for any other token */
export function jobIdOfProgressToken(token: unknown): string | undefined {
  if (typeof token !== 'string' || !token.startsWith('deepseek-')) { return undefined; }
  const id = token.slice('deepseek-'.length);
  return id ? id : undefined;
}

/** A spinner saying "Writing…" while Accept | Reject waits misleads: progress ends in review and at the end. */
export function progressShouldEnd(state: JobState, done: boolean): boolean {
  return done || state !== 'streaming';
}
