/**
 * Public surface of emboss's pure payment-cryptography primitives.
 * Everything here is synchronous, side-effect free (apart from drawing
 * random numbers where documented) and depends only on node:crypto.
 */
export { CryptoInputError, PinBlockError, type CryptoErrorCode, type PinBlockErrorCode } from './errors.ts';
export {
  createTdesCipher, createAesCipher, isBlockCipher, asTdes, asAes,
  tdesEncrypt, tdesDecrypt, aesEncrypt, aesDecrypt, cbcEncryptMany,
  xor, xorInto, isHex, hexToBytes, bytesToHex,
  type BlockCipher, type BlockAlgorithm, type KeyInput,
} from './cipher.ts';
export { decimalize } from './decimalize.ts';
export { secureRandomBytes } from './random.ts';
export { luhnCheckDigit, isLuhnValid, generateCardNumber, maskPan, type RandomIntFn } from './luhn.ts';
export {
  hasOddParity, adjustOddParity, withOddParity, cmac, aesCmac, tdesKcv, aesKcv, keyCheckValue,
  combineKeyComponents, combineComponents, generateKey, tdesKeyWeakness,
  type AesKcvOptions, type CombineOptions, type KeyKind,
} from './keys.ts';
export {
  prepareCvk, computeCvv, computeCvv2, computeIcvv, verifyCvv,
  CVV2_SERVICE_CODE, ICVV_SERVICE_CODE, type CvkPair,
} from './cvv.ts';
export { computePvv, computePvvs, verifyPvv } from './pvv.ts';
export {
  DEFAULT_DECIMALIZATION_TABLE, ibm3624ValidationData, ibm3624NaturalPin, ibm3624Offset,
  ibm3624PinFromOffset, ibm3624Verify,
} from './ibm3624.ts';
export {
  buildPinBlock, parsePinBlock, buildPinField4, parsePinField4, panField03, panField4,
  encryptPinBlock, encryptPinBlocks, decryptPinBlock, type PinBlockFormat, type PinBlockOptions,
} from './pin-block.ts';
export { Ff1, ff1Encrypt, ff1Decrypt, FF1_ALPHABET } from './ff1.ts';
export { tokenizePan, tokenizePans, detokenizePan, isPanToken, PAN_TOKEN_LENGTH, type TokenKey } from './pan-token.ts';
export {
  dcvv2Window, computeDcvv2, generateDcvv2, verifyDcvv2,
  type Dcvv2Result, type Dcvv2VerifyOptions,
} from './dcvv2.ts';
export {
  encryptCvvForClient, decryptCvvFromClient, encryptPinForClient, decryptPinFromClient,
  encryptPanForClient, decryptPanFromClient,
} from './client-encryption.ts';
