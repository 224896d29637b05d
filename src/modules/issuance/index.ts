export { IssuanceService, IssuanceCodes, DEFAULT_CHUNK, type Progress, type RunOptions, type IssuanceDeps } from './issuance.service.ts';
export * from './issuance.schemas.ts';
