import { Type, type TProperties } from '@sinclair/typebox';

/** Schema helpers shared by the modules' wire schemas (TypeBox, compiled by Fastify's Ajv). */

export const OrganizationNumber = Type.Integer({ minimum: 1, maximum: 998, description: 'Organization number (001–998).' });
export const LogoNumber = Type.Integer({ minimum: 1, maximum: 998, description: 'Logo (product) number (001–998).' });
/** A 19-digit record number; all zeros or empty means "none / generate one". */
export const RecordNumber = (description: string) =>
  Type.String({ pattern: '^([0-9]{1,19}|)$', maxLength: 19, description });
export const Text = (maxLength: number, description?: string) =>
  Type.String({ maxLength, ...(description ? { description } : {}) });
/**
 * Dates are years 1900–2199 (README, "API conventions"): every date a card system keeps (birth,
 * account opening, expiry, user dates) falls there, and PostgreSQL refuses year 0000 that the
 * `date` format alone lets pass. The pattern bounds the year; the format checks the day exists.
 */
export const DATE_MIN_YEAR = 1900;
export const DATE_MAX_YEAR = 2199;
const DATE_PATTERN = '^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$';
export const IsoDate = (description?: string) =>
  Type.String({
    format: 'date', pattern: DATE_PATTERN, maxLength: 10,
    description: `${description ? `${description} ` : ''}ISO 8601 date (YYYY-MM-DD), years ${DATE_MIN_YEAR}–${DATE_MAX_YEAR}.`,
  });
/**
 * A whole number with its documented range. Every integer of a request has one, within the
 * column it goes to (PostgreSQL integer: ±2147483647) or the upstream field's digits, whichever
 * is smaller, and never tighter than the business rule that answers it with an upstream code.
 */
export const Int = (minimum: number, maximum: number, description?: string) =>
  Type.Integer({ minimum, maximum, ...(description ? { description } : {}) });
/**
 * The bound of an amount of upstream's "Max Length: 17" (15 whole digits and cents, up to
 * 999,999,999,999,999.99, what a numeric(17, 2) column holds). That largest value reads as the
 * double 1e15 (anything from .94 up does), which cannot be told from 1,000,000,000,000,000: the
 * schema lets 1e15 through and the service answers 422 for it (`isStorableAmount`): card amounts
 * and account add's credit limit alike.
 */
export const AMOUNT_MAX = 1e15;
/** An amount the service may keep: below 1e15 in magnitude (see AMOUNT_MAX). */
export const isStorableAmount = (value: number | undefined) => value === undefined || Math.abs(value) < AMOUNT_MAX;
export const Flag = (values: string[], description?: string) =>
  Type.String({ maxLength: 1, ...(description ? { description: `${description} Values: ${values.map((v) => JSON.stringify(v)).join(', ')}.` } : {}) });

/** An object that also accepts fields it does not model: upstream requests carry many. */
export const Open = <T extends TProperties>(properties: T, description?: string) =>
  Type.Object(properties, { additionalProperties: true, ...(description ? { description } : {}) });
