/**
 * Errors a client may see. Every one carries an HTTP status, a FirstVision-style code and a
 * description that is safe to show: messages never include card data, PINs or keys.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${code} ${description}`);
    this.name = 'AppError';
  }
}

/** 422: a business rule refused the request (the upstream VPL5… codes where one fits). */
export const businessRule = (code: string, description: string) => new AppError(422, code, description);
/** The 422 of a module's code table entry (`[code, description]`, as the upstream lists them). */
export const refusal = (entry: readonly [string, string]) => businessRule(entry[0], entry[1]);
export const notFound = (code: string, description: string) => new AppError(404, code, description);
export const badRequest = (code: string, description: string) => new AppError(400, code, description);
export const unauthorized = (code: string, description: string) => new AppError(401, code, description);
export const forbidden = (code: string, description: string) => new AppError(403, code, description);
export const conflict = (code: string, description: string) => new AppError(409, code, description);

/**
 * A problem in the operator's configuration (bootstrap file, environment). Raised at start-up,
 * before anything is written.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
