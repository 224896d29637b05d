import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import {
  Cvv2VerificationRequest, Cvv2VerificationResponse, DynamicValuesRequest, DynamicValuesResponse, InvalidPinAttemptsInquiryRequest,
  InvalidPinAttemptsInquiryResponse, PinBlockUpdateRequest, PinBlockUpdateResponse, PinChangeRequest, PinChangeResponse, PinValidateRequest,
  PinValidateResponse, SecurityCodeDetailsRequest, SecurityCodeDetailsResponse, SecurityValuesDetailsV2Request, SecurityValuesDetailsV2Response,
  type Caller, type PinsService,
} from '../../modules/pins/index.ts';
import { responses } from '../refusals.ts';
import { actorOf, requireOrganization, requireScope } from '../plugins/auth.ts';

/** The calling client as the pins module needs it: its key associations and organizations. */
const callerOf = (request: FastifyRequest): Caller => ({
  actor: actorOf(request),
  keyAssociations: request.client?.keyAssociations ?? {},
  organizations: request.client?.organizations ?? [],
});

/**
 * The client must hold the organization named. A number outside 001–998 (upstream's form allows
 * 000–999) names none: the service refuses it with the endpoint's business-rule code before it reads anything.
 */
const requireOrganizationOf = (request: FastifyRequest, organization: number) => {
  if (organization >= 1 && organization <= 998) requireOrganization(request, organization);
};

/**
 * PIN and security-value endpoints. Security values (CVV, CVV2, iCVV, the PIN) and CVV2
 * verification (a clear CVV2 comes in) need PCI scope; dCVV2 generation PCI or dcvv2; a PIN
 * unblock pin-admin; the others the cards scope. Every value leaves encrypted under a key the
 * client's key association names.
 */
export const pinRoutes: FastifyPluginAsyncTypebox<{ pins: PinsService }> = async (app, { pins }) => {
  app.post('/cards/pin/security-codes', {
    config: { scope: 'pci', inquiry: true },
    schema: {
      operationId: 'securityValuesInquiry', tags: ['PINs'], summary: 'Security values (Cards 1.0.0): CVV, CVV2, iCVV and the PIN block, each encrypted under the key association\'s 3DES key (PCI scope)',
      body: SecurityCodeDetailsRequest, response: responses(SecurityCodeDetailsResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.securityCodes(callerOf(request), request.body);
  });

  app.post('/cards/v1/pin/codes', {
    config: { scope: 'pci', inquiry: true },
    schema: {
      operationId: 'securityCodesDetailsV2', tags: ['PINs'], summary: 'Security values V2: PIN block, user-defined values (CVV, CVV2, iCVV) and card security codes, encrypted (PCI scope)',
      body: SecurityValuesDetailsV2Request, response: responses(SecurityValuesDetailsV2Response, 'business-rule'),
    },
  }, async (request) => {
    requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.securityValuesV2(callerOf(request), request.body);
  });

  app.post('/cards/pin/validation', {
    config: { reservesLate: true },
    schema: {
      operationId: 'pinValidate', tags: ['PINs'], summary: 'PIN validation: the PIN block is checked against the card\'s PVV or offset; wrong PINs are counted and block the PIN at the logo\'s maximum',
      body: PinValidateRequest, response: responses(PinValidateResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.validate(callerOf(request), request.body);
  });

  app.post('/cards/pin/invalid-attempts', {
    config: { inquiry: true },
    schema: {
      operationId: 'invalidAttemptsInquiry', tags: ['PINs'], summary: 'Invalid PIN attempts: counter, last invalid try, maximum, exceeded action, blocked indicator',
      body: InvalidPinAttemptsInquiryRequest, response: responses(InvalidPinAttemptsInquiryResponse, 'business-rule'),
    },
  }, async (request) => {
    if (request.body.organizationNumber !== undefined) requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.invalidAttempts(callerOf(request), request.body);
  });

  app.post('/cards/pin/dynamic-values', {
    schema: {
      operationId: 'dynamicValuesInquiry', tags: ['PINs'], summary: 'Dynamic CVV2: N generates one (encrypted under the key association\'s 3DES key) and turns the card to dynamic mode; Y back to the static CVV2',
      body: DynamicValuesRequest, response: responses(DynamicValuesResponse, 'business-rule'),
    },
  }, async (request) => {
    // Generating a value is handing out a security value: PCI scope, or dcvv2 alone for a
    // cardholder-facing app. Turning dynamic mode off hands out nothing.
    if (request.body.disableDCVV2.trim().toUpperCase() !== 'Y') requireScope(request, 'dcvv2', 'pci');
    requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.dynamicValues(callerOf(request), request.body);
  });

  app.post('/cards/cvv2/verification', {
    config: { scope: 'pci', reservesLate: true },
    schema: {
      operationId: 'cvv2Verify', tags: ['PINs'], summary: 'CVV2 verification (emboss, for the authorization host): static or dynamic CVV2 with the card expiry; wrong values are counted (PCI scope)',
      body: Cvv2VerificationRequest, response: responses(Cvv2VerificationResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.verifyCvv2(callerOf(request), request.body);
  });

  app.put('/cards/pin/pin-change', {
    schema: {
      operationId: 'pinChange', tags: ['PINs'], summary: 'PIN change: the current PIN block (checked, wrong ones counted) and the requested one, under the key association\'s key',
      body: PinChangeRequest, response: responses(PinChangeResponse, 'business-rule'),
    },
  }, async (request) => {
    requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.change(callerOf(request), request.body);
  });

  app.put('/cards/pin/status', {
    schema: {
      operationId: 'pinBlockUnblock', tags: ['PINs'], summary: 'PIN block (B) or unblock (U); unblocking resets the PIN and CVV2 invalid-try counters',
      body: PinBlockUpdateRequest, response: responses(PinBlockUpdateResponse, 'business-rule'),
    },
  }, async (request) => {
    // Unblocking resets the invalid-try counters: with it, a client could try PINs without end.
    // It is an operator's duty, not a cardholder-facing client's (blocking is anyone's).
    if (request.body.serviceFunctionCode.trim().toUpperCase() !== 'B') requireScope(request, 'pin-admin');
    if (request.body.organizationNumber !== undefined) requireOrganizationOf(request, request.body.organizationNumber);
    return await pins.updateStatus(callerOf(request), request.body);
  });
};
