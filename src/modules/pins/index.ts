export { PinsService, type PinsDeps, type Caller, type DailyCaps } from './pins.service.ts';
export {
  PinCodes, ValidationCodes, SecurityValueCodes, InvalidAttemptsCodes, DynamicValueCodes, PinChangeCodes, PinStatusCodes, Cvv2Codes,
  type CardCheckCodes,
} from './pins.codes.ts';
export * from './pins.schemas.ts';
