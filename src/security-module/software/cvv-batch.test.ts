import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { computeCvv, createTdesCipher, encryptCvvForClient, generateCardNumber, prepareCvk } from '../../crypto/index.ts';
import { cvvBatch, cvvBatchMany, encryptValuesForClient } from './cvv-batch.ts';

describe('cvvBatch', () => {
  it('gives the Visa vector (CVV 561)', () => {
    const cvk = prepareCvk(Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex'));
    assert.deepEqual(cvvBatch(cvk, '4123456789012345', '8701', ['101']), ['561']);
  });

  it('equals computeCvv value by value for random keys, card numbers of every length and service codes', () => {
    for (let i = 0; i < 300; i++) {
      const cvk = prepareCvk(randomBytes(16));
      const pan = generateCardNumber('4', randomInt(12, 20));
      const expiry = String(randomInt(10000)).padStart(4, '0');
      const codes = ['101', '000', '999', String(randomInt(1000)).padStart(3, '0')].slice(0, randomInt(1, 5));
      assert.deepEqual(cvvBatch(cvk, pan, expiry, codes), codes.map((sc) => computeCvv(cvk, pan, expiry, sc)));
    }
  });

  it('cvvBatchMany: for many cards at once, each card its own values, equal to computeCvv', () => {
    const cvk = prepareCvk(Buffer.from('0123456789ABCDEFFEDCBA9876543210', 'hex'));
    const cards = Array.from({ length: 50 }, (_, i) => ({
      pan: i === 7 ? '4123456789012345' : generateCardNumber('5', randomInt(12, 20)),
      expiryYYMM: i === 7 ? '8701' : String(randomInt(10000)).padStart(4, '0'),
      serviceCodes: ['101', '000', '999', '201'].slice(0, 1 + (i % 4)),
    }));
    const values = cvvBatchMany(cvk, cards);
    assert.equal(values[7]![0], '561'); // the Visa vector, in the middle of the batch
    assert.deepEqual(values, cards.map((c) => c.serviceCodes.map((sc) => computeCvv(cvk, c.pan, c.expiryYYMM, sc))));
    assert.deepEqual(cvvBatchMany(cvk, []), []);
  });

  it('encrypts values for a client exactly as encryptCvvForClient does', () => {
    const key = createTdesCipher(randomBytes(16));
    const values = ['561', '042', '9999'];
    assert.deepEqual(encryptValuesForClient(key, values), values.map((v) => encryptCvvForClient(key, v)));
  });
});
