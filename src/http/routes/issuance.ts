import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { MassIssueDetails, MassIssueQuery, MassIssueRequest, MassIssueResponse, type IssuanceService } from '../../modules/issuance/index.ts';
import { responses } from '../refusals.ts';
import { actorOf, requireOrganization } from '../plugins/auth.ts';

export const issuanceRoutes: FastifyPluginAsyncTypebox<{ issuance: IssuanceService }> = async (app, { issuance }) => {
  app.post('/cards/mass-card-issue-L8V3', {
    schema: {
      operationId: 'massCardIssueUpdate', tags: ['Mass issue'], summary: 'Mass card issue: A registers a request for quantityToCreate unnamed cards, M modifies it; a background job creates them',
      body: MassIssueRequest, response: responses(MassIssueResponse, 'business-rule'),
    },
  }, async (request) => {
    // An organization number outside 001–998 (or none) names no organization: the service refuses it (VPL5SMC01E).
    const org = request.body.organizationNumber;
    if (org !== undefined && org >= 1 && org <= 998) requireOrganization(request, org);
    return await issuance.submit(actorOf(request), request.body);
  });

  app.get('/cards/mass-card-issue-L8V3', {
    schema: {
      operationId: 'massCardReissueInquiry', tags: ['Mass issue'], summary: 'Mass card issue inquiry: progress (done, total, rate, ETA) and a page of the cards made',
      querystring: MassIssueQuery, response: responses(MassIssueDetails, 'business-rule'),
    },
  }, async (request) => {
    // Outside 001–998: the service refuses it (VPL5SQC01E).
    const org = request.query.organizationNumber;
    if (org >= 1 && org <= 998) requireOrganization(request, org);
    return await issuance.inquire(actorOf(request), request.query);
  });
};
