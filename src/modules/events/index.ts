export * from './outbox.ts';
export * from './events.schemas.ts';
export * from './events.service.ts';
