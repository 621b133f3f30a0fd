import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { jobIdOfProgressToken, progressShouldEnd } from '../../model/progress';

test('a progress token names its job', () => {
  assert.equal(jobIdOfProgressToken('deepseek-j12'), 'j12');
  assert.equal(jobIdOfProgressToken('deepseek-'), undefined);
  assert.equal(jobIdOfProgressToken('3f0c-uuid'), undefined);
  assert.equal(jobIdOfProgressToken(7), undefined);
});

test('progress ends when nothing is being written: review, or the end', () => {
  assert.equal(progressShouldEnd('streaming', false), false);
  assert.equal(progressShouldEnd('review', false), true);
  assert.equal(progressShouldEnd('done', true), true);
  assert.equal(progressShouldEnd('cancelled', true), true);
});
