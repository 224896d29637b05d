import { Type, type TProperties } from '@sinclair/typebox';

/** Schema helpers shared by the modules' wire schemas (TypeBox, compiled by Fastify's Ajv). */

export const OrganizationNumber = Type.Integer({ minimum: 1, maximum: 998, description: 'Organization number (001–998).' });
export const LogoNumber = Type.Integer({ minimum: 1, maximum: 998, description: 'Logo (product) number (001–998).' });
/** A 19-digit record number; all zeros or empty means "none / generate one". */
export const RecordNumber = (description: string) =>
  Type.String({ pattern: '^([0-9]{1,19}|)$', maxLength: 19, description });
export const Text = (maxLength: number, description?: string) =>
  Type.String({ maxLength, ...(description ? { description } : {}) });
export const IsoDate = (description?: string) =>
  Type.String({ format: 'date', ...(description ? { description } : {}) });
export const Flag = (values: string[], description?: string) =>
  Type.String({ maxLength: 1, ...(description ? { description: `${description} Values: ${values.map((v) => JSON.stringify(v)).join(', ')}.` } : {}) });

/** An object that also accepts fields it does not model: upstream requests carry many. */
export const Open = <T extends TProperties>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: true, ...(description ? { description } : {}) });
