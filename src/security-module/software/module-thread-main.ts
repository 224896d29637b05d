/** The module thread (see module-thread.ts): a module instance answering batch requests in order. */
import { parentPort, workerData } from 'node:worker_threads';
import { Buffer } from 'node:buffer';
import { SecurityModuleError, type IssueCardsRequest } from '../port.ts';
import { SoftwareSecurityModule } from './software-security-module.ts';
import type { ThreadReply } from './module-thread.ts';

const { masterKey } = workerData as { masterKey: Uint8Array };
const module = new SoftwareSecurityModule(Buffer.from(masterKey));
masterKey.fill(0);

parentPort!.on('message', ({ id, request }: { id: number; request: IssueCardsRequest }) => {
  let reply: ThreadReply;
  try {
    reply = { id, result: module.issueCardsHere(request) };
  } catch (e) {
    // A refusal's message is safe by construction (see SecurityModuleError); anything else is not passed on.
    reply = e instanceof SecurityModuleError ? { id, refused: { code: e.code, message: e.message } } : { id, failed: true };
  }
  parentPort!.postMessage(reply);
});
