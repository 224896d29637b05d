import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redact, redactText, maskPan, REDACTED } from './redact.ts';

test('Luhn-valid digit runs of 13–19 are masked to first six and last four', () => {
  assert.equal(redactText('pan 4111111111111111 here'), 'pan 411111******1111 here');
  assert.equal(redactText('19: 6011000990139424000'.replace('6011000990139424000', '6011000990139424')), '19: 601100******9424');
  // Not Luhn-valid, or too short: left alone (customer numbers, amounts, timestamps).
  assert.equal(redactText('n 4111111111111112'), 'n 4111111111111112');
  assert.equal(redactText('ts 1795368572913'), 'ts 1795368572913');
  assert.equal(maskPan('4111111111111111'), '411111******1111');
});

test('long hex runs (keys, PIN blocks, cryptograms) are replaced', () => {
  assert.equal(redactText('key 0123456789ABCDEFFEDCBA9876543210 end'), `key ${REDACTED} end`);
  assert.equal(redactText('block 041234FEDCBA9876'), `block ${REDACTED}`);
  // Hex-looking words without digits, and UUIDs, stay.
  assert.equal(redactText('deadbeefdeadbeefcafe'), 'deadbeefdeadbeefcafe');
  assert.equal(redactText('id 3f1c9a2e-8b7d-4c6f-9a1e-2b3c4d5e6f70'), 'id 3f1c9a2e-8b7d-4c6f-9a1e-2b3c4d5e6f70');
});

test('secret fields are redacted whatever their value; card fields masked; the input is not changed', () => {
  const input = {
    pin: '1234', pinBlock: 'abc', newPin: '0000', cvv2: '123', ud1ec: 'x', secret: 's', client_secret: 's', authorization: 'Bearer x',
    signature: 'sig', apikey: 'kept', keyBlock: 'EMB1...', components: ['aa'], masterKey: 'm', track2: ';4111=', clientSecret: 's',
    cardNumber: '4111111111111111', nested: { deeper: [{ pinEncrypt: 'p', note: 'card 4111111111111111' }] }, count: 3,
  };
  const copy = structuredClone(input);
  const out = redact(input) as Record<string, any>;
  for (const k of ['pin', 'pinBlock', 'newPin', 'cvv2', 'ud1ec', 'secret', 'client_secret', 'authorization', 'signature', 'keyBlock', 'components', 'masterKey', 'track2', 'clientSecret']) {
    assert.equal(out[k], REDACTED, k);
  }
  assert.equal(out.apikey, 'kept');
  assert.equal(out.cardNumber, '411111******1111');
  assert.equal(out.nested.deeper[0].pinEncrypt, REDACTED);
  assert.equal(out.nested.deeper[0].note, 'card 411111******1111');
  assert.equal(out.count, 3);
  assert.deepEqual(input, copy);
});

test('errors are reduced to type, redacted message and stack', () => {
  const out = redact({ err: new Error('failed for 4111111111111111') }) as { err: { message: string; stack: string; type: string } };
  assert.equal(out.err.type, 'Error');
  assert.equal(out.err.message, 'failed for 411111******1111');
  assert.doesNotMatch(out.err.stack, /4111111111111111/);
});
