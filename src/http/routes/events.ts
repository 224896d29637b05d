import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EndpointId, EndpointList, EndpointRemoved, EndpointRequest, EventsPage, EventsQuery, NewEndpoint, type EventsService } from '../../modules/events/index.ts';
import { responses } from '../refusals.ts';
import { actorOf } from '../plugins/auth.ts';

/** Card lifecycle events (docs/events.md): the pull API and the client's webhook endpoints; scope `events`. */
export const eventRoutes: FastifyPluginAsyncTypebox<{ events: EventsService }> = async (app, { events }) => {
  app.get('/events', {
    config: { scope: 'events' },
    schema: {
      operationId: 'eventsList', tags: ['Events'], summary: 'Card lifecycle events of the client\'s organizations after a cursor, oldest first',
      querystring: EventsQuery, response: responses(EventsPage),
    },
  }, async (request) => events.list(request.client!.organizations, request.query.after, request.query.limit ?? 100));

  app.post('/webhooks/endpoints', {
    config: { scope: 'events' },
    schema: {
      operationId: 'webhookEndpointAdd', tags: ['Events'], summary: 'Registers a webhook endpoint (http or https URL); answers its signing secret, once',
      body: EndpointRequest, response: responses(NewEndpoint, 'business-rule'),
    },
  }, async (request) => events.addEndpoint(actorOf(request), request.client!.organizations, request.body));

  app.get('/webhooks/endpoints', {
    config: { scope: 'events' },
    schema: { operationId: 'webhookEndpointsList', tags: ['Events'], summary: 'The client\'s webhook endpoints', response: responses(EndpointList) },
  }, async (request) => ({ endpoints: await events.listEndpoints(request.client!.clientId) }));

  app.delete('/webhooks/endpoints/:id', {
    config: { scope: 'events' },
    schema: {
      operationId: 'webhookEndpointRemove', tags: ['Events'], summary: 'Removes a webhook endpoint of the client: its pending deliveries are cancelled',
      params: EndpointId, response: responses(EndpointRemoved, 'not-found'),
    },
  }, async (request) => events.removeEndpoint(actorOf(request), request.params.id));
};
