import { Type, type TSchema } from '@sinclair/typebox';

/** The FirstVision response envelope: `{ hasError, errors: [{ code, description }], data }`. */
export const ErrorItem = Type.Object({ code: Type.String(), description: Type.String() });

export const Envelope = <T extends TSchema>(data: T) =>
  Type.Object({ hasError: Type.Boolean(), errors: Type.Array(ErrorItem), data });

export const ErrorEnvelope = Type.Object({
  hasError: Type.Literal(true),
  errors: Type.Array(ErrorItem),
  data: Type.Object({}, { additionalProperties: true }),
}, { description: 'Error: the code says what went wrong; nothing was changed.' });

export const ok = <T>(data: T) => ({ hasError: false as const, errors: [] as Array<{ code: string; description: string }>, data });

export const errorBody = (code: string, description: string, data: Record<string, unknown> = {}) =>
  ({ hasError: true as const, errors: [{ code, description }], data });

/** Response schemas for a route: 200 with its data, every error status with the error envelope. */
export function responses<T extends TSchema>(data: T, ...errorStatuses: number[]) {
  const out: Record<number, TSchema> = { 200: Envelope(data) };
  for (const s of [400, 401, 403, 409, 429, 500, ...errorStatuses]) out[s] = ErrorEnvelope;
  return out;
}
