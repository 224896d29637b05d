import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as api from './index.ts';

test('end to end: one card through the primitives', () => {
  const tdesKey = api.generateKey('tdes-2key');
  const cvk = api.prepareCvk(tdesKey);
  const pvk = api.createTdesCipher(api.generateKey('tdes-2key'));
  const ff1 = new api.Ff1(api.generateKey('aes-256'));
  const pan = api.generateCardNumber('412345', 16);
  const token = api.tokenizePan(ff1, pan);
  assert.equal(api.detokenizePan(ff1, token), pan);
  const cvv2 = api.computeCvv2(cvk, pan, '3012');
  assert.ok(api.verifyCvv(cvk, pan, '3012', '000', cvv2));
  const pvv = api.computePvv(pvk, pan, '1', '4321');
  assert.ok(api.verifyPvv(pvk, pan, '1', '4321', pvv));
  const zpk = api.generateKey('tdes-2key');
  assert.equal(api.decryptPinFromClient(zpk, api.encryptPinForClient(zpk, '4321', pan), pan), '4321');
});
