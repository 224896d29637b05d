/**
 * emboss's own error codes for the HTTP layer, in the FirstVision style (prefix, number,
 * severity letter). Business-rule codes come from the upstream lists and live with each module.
 */
export const HttpCodes = {
  tokenMissing: ['EMBA01E', 'BEARER TOKEN MISSING OR MALFORMED'],
  tokenInvalid: ['EMBA02E', 'BEARER TOKEN UNKNOWN OR EXPIRED'],
  apikeyMismatch: ['EMBA03E', 'APIKEY MISSING OR NOT THE CLIENT OF THE TOKEN'],
  timestampInvalid: ['EMBA04E', 'TIMESTAMP MISSING OR NOT EPOCH MILLISECONDS'],
  timestampOutOfWindow: ['EMBA05E', 'TIMESTAMP OUTSIDE THE ALLOWED WINDOW'],
  signatureMissing: ['EMBA06E', 'HMAC SIGNATURE MISSING'],
  signatureInvalid: ['EMBA07E', 'HMAC SIGNATURE DOES NOT MATCH'],
  requestIdMissing: ['EMBA08E', 'REQUEST ID MISSING OR LONGER THAN 128 CHARACTERS'],
  organizationForbidden: ['EMBA09E', 'ORGANIZATION NOT ALLOWED FOR THIS CLIENT'],
  scopeForbidden: ['EMBA10E', 'CLIENT LACKS THE SCOPE THIS OPERATION NEEDS'],
  badCredentials: ['EMBA11E', 'INVALID CLIENT CREDENTIALS'],
  requestIdReused: ['EMBA12E', 'REQUEST ID ALREADY USED WITH A DIFFERENT REQUEST'],
  requestInProgress: ['EMBA13E', 'A REQUEST WITH THIS ID IS STILL IN PROGRESS'],
  rateLimited: ['EMBA14E', 'RATE LIMIT EXCEEDED - RETRY LATER'],
  badGrant: ['EMBA15E', 'UNSUPPORTED GRANT TYPE - USE client_credentials'],
  schema: ['EMBV01E', 'REQUEST DOES NOT MATCH THE SCHEMA'],
  badJson: ['EMBV02E', 'REQUEST BODY IS NOT VALID JSON'],
  mediaType: ['EMBV03E', 'UNSUPPORTED CONTENT TYPE'],
  bodyTooLarge: ['EMBV04E', 'REQUEST BODY TOO LARGE'],
  unstorableText: ['EMBV05E', 'TEXT CONTAINS A NUL CHARACTER OR AN UNPAIRED SURROGATE'],
  notFound: ['EMBN01E', 'NO SUCH ROUTE'],
  methodNotAllowed: ['EMBN02E', 'METHOD NOT ALLOWED'],
  internal: ['EMBS01E', 'INTERNAL ERROR - REFER TO THE TRACE ID'],
} as const satisfies Record<string, readonly [string, string]>;
