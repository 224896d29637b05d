/** Where the typed client's schema is written. */
export const SCHEMA_FILE: string;
/** The TypeScript source of the typed client's schema for an OpenAPI document (as app.swagger() gives it). */
export function schemaSource(document: unknown): Promise<string>;
/** emboss's OpenAPI document, from an app built with docs over an empty in-memory store. */
export function openapiDocument(): Promise<unknown>;
