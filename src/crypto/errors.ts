/**
 * Error types for the payment-cryptography primitives.
 *
 * Rule for every message in this folder: it describes WHAT is wrong with an
 * input (its kind, its expected shape) and never echoes the input itself. Key
 * bytes, PINs, PANs, PIN blocks, tokens and ciphertexts never appear in
 * `message`, and therefore never in `String(err)` or `err.stack`.
 * Tests in errors.test.ts provoke every error path with secret-looking inputs
 * and assert that.
 */

export type CryptoErrorCode =
  | 'BAD_KEY' // wrong key type/length/algorithm
  | 'WEAK_KEY' // key material rejected (e.g. all-zero combined key)
  | 'BAD_HEX' // not an even-length hexadecimal string
  | 'BAD_PAN' // PAN not digits or wrong length
  | 'BAD_PIN' // PIN not digits or wrong length
  | 'BAD_INPUT' // any other malformed argument
  | 'BAD_LENGTH' // data length not what the operation needs
  | 'BAD_PADDING' // decrypted data does not carry the expected padding
  | 'BAD_DEC_TABLE' // decimalisation table malformed
  | 'BAD_VALIDATION_DATA' // IBM 3624 validation data malformed
  | 'BAD_RADIX' // FF1 radix / numeral problem
  | 'BAD_TWEAK' // FF1 tweak problem
  | 'BAD_TOKEN' // not a token produced by this scheme and key
  // PIN-block specific (PinBlockError):
  | 'BAD_CONTROL'
  | 'BAD_FILL'
  | 'PAN_MISMATCH'
  | 'BAD_FORMAT';

export class CryptoInputError extends Error {
  readonly code: CryptoErrorCode;

  constructor(code: CryptoErrorCode, message: string) {
    super(message);
    this.name = 'CryptoInputError';
    this.code = code;
  }
}

export type PinBlockErrorCode =
  | 'BAD_CONTROL' // control (format) nibble is not the expected format
  | 'BAD_LENGTH' // block has the wrong byte length, or PIN length nibble is not 4..12
  | 'BAD_FILL' // fill/pad digits are not what the format prescribes
  | 'PAN_MISMATCH' // block structure is consistent but the PAN-dependent part is not (wrong PAN is the likely cause)
  | 'BAD_FORMAT' // unsupported format, or a PIN digit that is not 0-9
  | 'BAD_PIN' // PIN to encode is not 4..12 decimal digits
  | 'BAD_PAN' // PAN to encode is not acceptable for the format
  | 'BAD_KEY'; // key does not fit the format (TDES for 0/1/3, AES for 4)

export class PinBlockError extends CryptoInputError {
  declare readonly code: PinBlockErrorCode;

  constructor(code: PinBlockErrorCode, message: string) {
    super(code, message);
    this.name = 'PinBlockError';
  }
}
