import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Refusal, type RefusalKind } from '../shared/errors.ts';
import { refusalAnswer, responses } from './refusals.ts';
import { ErrorEnvelope } from './envelope.ts';

// The statuses clients have always been answered: a kind moved to another status changes the wire.
const WIRE: Record<RefusalKind, number> = {
  'invalid-input': 400, 'not-authenticated': 401, 'not-allowed': 403, 'not-found': 404, conflict: 409,
  'too-large': 413, 'unsupported-media-type': 415, 'business-rule': 422, 'too-many-requests': 429, unavailable: 503,
};

test('each kind of refusal is answered with the status clients know, the envelope, and Retry-After when it asks for a wait', () => {
  for (const [kind, status] of Object.entries(WIRE) as [RefusalKind, number][]) {
    const answer = refusalAnswer(new Refusal(kind, 'EMBX01E', 'A DESCRIPTION'));
    assert.equal(answer.statusCode, status, kind);
    assert.deepEqual(answer.body, { hasError: true, errors: [{ code: 'EMBX01E', description: 'A DESCRIPTION' }], data: {} });
    assert.deepEqual(answer.headers, {});
  }
  assert.deepEqual(refusalAnswer(new Refusal('too-many-requests', 'EMBA14E', 'RATE LIMIT EXCEEDED - RETRY LATER', 3)).headers, { 'retry-after': '3' });
});

test('a route documents the envelope under the status of every refusal it may answer, and 500', () => {
  assert.deepEqual(Object.keys(responses(ErrorEnvelope, 'business-rule')).map(Number), [200, 400, 401, 403, 409, 422, 429, 500]);
  assert.deepEqual(Object.keys(responses(ErrorEnvelope, 'not-found')).map(Number), [200, 400, 401, 403, 404, 409, 429, 500]);
});
