import { Type, type Static } from '@sinclair/typebox';
import { EVENT_TYPES } from './outbox.ts';

export const EventTypeSchema = Type.Union(EVENT_TYPES.map((t) => Type.Literal(t)));

export const EventPayload = Type.Object({
  id: Type.String({ description: 'Event id: the webhook-id of its deliveries; a receiver drops an id it has seen.' }),
  type: EventTypeSchema,
  cursor: Type.String({ description: 'Global order of events (a decimal integer): pass it as `after` to get the later ones.' }),
  subject: Type.String({ description: 'What the event is about: the card\'s PAN token, or e.g. mass-issue:12.' }),
  sequence: Type.Integer({ description: 'Order of the events of the subject, from 1.' }),
  timestamp: Type.String({ format: 'date-time' }),
  organization: Type.Union([Type.Integer(), Type.Null()]),
  cardToken: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
});
export type EventPayload = Static<typeof EventPayload>;

export const EventsQuery = Type.Object({
  after: Type.Optional(Type.String({ pattern: '^[0-9]{1,18}$', maxLength: 18, description: 'Cursor of the last event seen (0 or absent: from the first).' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

export const EventsPage = Type.Object({
  events: Type.Array(EventPayload),
  next: Type.String({ description: 'The cursor to pass as `after` next time (the last event\'s, or the one given).' }),
});

export const EndpointRequest = Type.Object({
  url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL the events are POSTed to.' }),
  eventTypes: Type.Optional(Type.Array(EventTypeSchema, { maxItems: 32, description: 'Types to deliver; absent or empty: all.' })),
}, { additionalProperties: false });
export type EndpointRequest = Static<typeof EndpointRequest>;

export const Endpoint = Type.Object({
  id: Type.String(),
  url: Type.String(),
  eventTypes: Type.Array(Type.String()),
  organizations: Type.Array(Type.Integer()),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Endpoint = Static<typeof Endpoint>;

export const NewEndpoint = Type.Composite([Endpoint, Type.Object({
  secret: Type.String({ description: 'The Standard Webhooks signing secret (whsec_…): shown this once.' }),
})]);

export const EndpointList = Type.Object({ endpoints: Type.Array(Endpoint) });
export const EndpointId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const EndpointRemoved = Type.Object({ id: Type.String(), removed: Type.Boolean() });
