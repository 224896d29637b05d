import { Type } from '@sinclair/typebox';

/**
 * The FirstVision error envelope (upstream's `DResponse`): `{ hasError, errors: [{ code,
 * description }], data }`. Upstream answers success with the bare response object and errors
 * with this envelope; a client whose profile asks for it gets success wrapped too (see
 * wrapSuccess).
 */
export const ErrorItem = Type.Object({ code: Type.String(), description: Type.String() });

export const ErrorEnvelope = Type.Object({
  hasError: Type.Literal(true),
  errors: Type.Array(ErrorItem),
  data: Type.Object({}, { additionalProperties: true }),
}, { description: 'Error: the code says what went wrong; nothing was changed.' });

export const errorBody = (code: string, description: string, data: Record<string, unknown> = {}) =>
  ({ hasError: true as const, errors: [{ code, description }], data });

/** A success body's JSON text inside the envelope, for clients whose profile asks for it. */
export const wrapSuccess = (json: string) => `{"hasError":false,"errors":[],"data":${json}}`;
