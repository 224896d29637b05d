/**
 * The software security module's own thread for batch operations: a worker thread that holds a
 * module instance with the same master key (handed over in memory, never written anywhere) and
 * runs `issueCards` there, so the cryptography of a bulk issue does not hold the caller's event
 * loop. One thread, requests answered in order; the thread does not keep the process alive
 * while it has nothing to do.
 */
import { Worker } from 'node:worker_threads';
import { SecurityModuleError, type IssueCardsRequest, type IssuedCardValues, type SecurityModuleErrorCode } from '../port.ts';

/** What the thread answers: the result, or a refusal (code and safe message), or a failure without detail. */
export type ThreadReply =
  | { id: number; result: IssuedCardValues[] }
  | { id: number; refused: { code: SecurityModuleErrorCode; message: string } }
  | { id: number; failed: true };

interface Waiting { resolve: (cards: IssuedCardValues[]) => void; reject: (e: Error) => void }

export class ModuleThread {
  /** The running thread with the calls waiting on it (each thread has its own: a stopped one fails only its own). */
  private current: { worker: Worker; waiting: Map<number, Waiting> } | undefined;
  private next = 0;

  constructor(private readonly masterKey: Buffer) {}

  issueCards(request: IssueCardsRequest): Promise<IssuedCardValues[]> {
    const { worker, waiting } = (this.current ??= this.start());
    const id = this.next++;
    if (waiting.size === 0) worker.ref();
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, request });
    });
  }

  private start(): { worker: Worker; waiting: Map<number, Waiting> } {
    // Under tsx (development, tests) the thread registers the same loader first. The compiled
    // build (scripts/build.mjs) puts the thread's entry in the same folder as this code.
    const typescript = import.meta.url.endsWith('.ts');
    const entry = new URL(`./module-thread-main.${typescript ? 'ts' : 'js'}`, import.meta.url).href;
    const code = typescript
      ? `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`
      : `import(${JSON.stringify(entry)})`;
    // A batch needs little memory (a chunk's cards, the module's code and keys): small heap
    // limits keep the thread's share of the process small. The young generation is sized so a
    // 1,000-card batch is collected about twice, not four times (a batch's results stay alive to
    // its end, and each collection copies them). Running out ends the thread, which fails the
    // waiting calls; the next call starts a new one.
    const worker = new Worker(code, {
      eval: true, workerData: { masterKey: this.masterKey }, resourceLimits: { maxYoungGenerationSizeMb: 24, maxOldGenerationSizeMb: 48 },
    });
    const waiting = new Map<number, Waiting>();
    worker.on('message', (reply: ThreadReply) => {
      const call = waiting.get(reply.id);
      if (!call) return;
      waiting.delete(reply.id);
      if (waiting.size === 0) worker.unref();
      if ('result' in reply) call.resolve(reply.result);
      else if ('refused' in reply) call.reject(new SecurityModuleError(reply.refused.code, reply.refused.message));
      else call.reject(new Error('security module thread: the operation failed'));
    });
    // 'error' (out of memory, …) is followed by 'exit'; by then a new thread may be running.
    const lost = () => {
      if (this.current?.worker === worker) this.current = undefined;
      for (const call of waiting.values()) call.reject(new Error('security module thread stopped'));
      waiting.clear();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    worker.unref();
    return { worker, waiting };
  }
}
