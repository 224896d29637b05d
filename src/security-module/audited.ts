/**
 * Audit wrapper for a security module: one event per operation, redacted by construction.
 *
 * The wrapper is generic: every method of the inner module, present or future, is wrapped the same
 * way (a Proxy), so no operation can be left out of the audit trail. What an event may carry is
 * fixed here, not by each operation:
 *
 * - `operation`: the method name.
 * - `keyTypes`: the key types of the key blocks passed in, read from the key block header only
 *   (`EMB1.<TYPE>.`), for arguments that are strings and for the direct string properties of
 *   object arguments. Nothing else of an argument is read, kept or compared; a header that does not
 *   name a known key type is not recorded.
 * - `outcome`: 'ok' (resolved), 'refused' (rejected with a SecurityModuleError: bad input, wrong
 *   key, …) or 'error' (any other failure). Error messages are not recorded.
 * - `result`: only when the operation resolved with a boolean (a verification result); every other
 *   return value is passed to the caller untouched and never looked at.
 * - `durationUs`: wall time of the operation in microseconds (integer).
 *
 * The sink is called synchronously after the operation settles and before its result reaches the
 * caller; if the sink throws, the operation fails with the sink's error (an operation that could
 * not be audited does not report success).
 */
import { KEY_TYPES, SecurityModuleError, type KeyType, type SecurityModule } from './port.ts';

export interface SecurityModuleAuditEvent {
  operation: string;
  keyTypes: string[];
  outcome: 'ok' | 'refused' | 'error';
  result?: boolean;
  durationUs: number;
}

export type SecurityModuleAuditSink = (event: SecurityModuleAuditEvent) => void;

const KEY_BLOCK_PREFIX = 'EMB1.';
const KNOWN_TYPES: ReadonlySet<string> = new Set<KeyType>(KEY_TYPES);

/** Key type named by a key block header, or undefined; reads at most the header. */
function keyTypeOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith(KEY_BLOCK_PREFIX)) return undefined;
  const end = value.indexOf('.', KEY_BLOCK_PREFIX.length);
  if (end < 0 || end - KEY_BLOCK_PREFIX.length > 3) return undefined;
  const type = value.slice(KEY_BLOCK_PREFIX.length, end);
  return KNOWN_TYPES.has(type) ? type : undefined;
}

function keyTypesOf(args: readonly unknown[]): string[] {
  // Runs on every operation: plain loops, no closure made per call.
  const types: string[] = [];
  for (const arg of args) {
    if (typeof arg === 'string') {
      const t = keyTypeOf(arg);
      if (t !== undefined) types.push(t);
    } else if (typeof arg === 'object' && arg !== null && !Array.isArray(arg)) {
      for (const key of Object.keys(arg)) {
        const t = keyTypeOf((arg as Record<string, unknown>)[key]);
        if (t !== undefined) types.push(t);
      }
    }
  }
  return types;
}

function elapsedUs(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1000);
}

export function audited(inner: SecurityModule, sink: SecurityModuleAuditSink): SecurityModule {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(inner, {
    get(target, property, receiver) {
      // Object.prototype members (toString, …) and symbols behave as on any object.
      if (typeof property !== 'string' || property in Object.prototype) return Reflect.get(target, property, receiver);
      const value: unknown = Reflect.get(target, property, target);
      // Only operations are reachable through the wrapper; other properties of the inner object are not.
      if (typeof value !== 'function') return undefined;
      let wrapper = wrappers.get(property);
      if (wrapper === undefined) {
        const operation = property;
        wrapper = async (...args: unknown[]): Promise<unknown> => {
          const keyTypes = keyTypesOf(args);
          const start = process.hrtime.bigint();
          let result: unknown;
          try {
            // Look the method up again so the wrapper always calls the inner module's current method.
            const method = Reflect.get(target, operation, target) as (...a: unknown[]) => unknown;
            result = await Reflect.apply(method, target, args);
          } catch (e) {
            sink({ operation, keyTypes, outcome: e instanceof SecurityModuleError ? 'refused' : 'error', durationUs: elapsedUs(start) });
            throw e;
          }
          const event: SecurityModuleAuditEvent = { operation, keyTypes, outcome: 'ok', durationUs: elapsedUs(start) };
          if (typeof result === 'boolean') event.result = result;
          sink(event);
          return result;
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}
