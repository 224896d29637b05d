import type { IssueCardsRequest, IssuedCardValues, IssuedPin, PinVerificationMethod, SecurityModule } from '../../security-module/port.ts';
import type { KeysService } from '../keys/index.ts';
import { businessRule } from '../../shared/errors.ts';

/**
 * Everything the cards module does with a clear card number, through the security module and
 * the system keys: the number is stored encrypted, found by its keyed hash or its token, and
 * shown in clear only to callers entitled to it.
 */
export interface SystemKeyBlocks { dek: string; hmk: string; tok: string }

export class CardVault {
  /**
   * The system keys are handed over as key blocks at start-up (they exist once the bootstrap
   * ran), so no operation here touches the database: card operations call it inside their
   * transactions, and on PGlite (one session) a query outside the transaction would wait forever.
   */
  constructor(private readonly sm: SecurityModule, private readonly keys: KeysService, private readonly system: SystemKeyBlocks) {}

  /**
   * New cards (see IssueCardsRequest): hash, token and stored number under the system keys, with
   * PINs and bureau records — the one way a new number gets its values (issuing.ts).
   */
  issueCards(binLength: number, request: Omit<IssueCardsRequest, 'tok' | 'dek' | 'hmk' | 'binLength'>): Promise<IssuedCardValues[]> {
    return this.sm.issueCards({ ...request, binLength: tokenBinLength(binLength), tok: this.system.tok, dek: this.system.dek, hmk: this.system.hmk });
  }

  /** A new random PIN for a card, stored, with its PVV or offset. */
  generatePin(pvk: string, pan: string, method: PinVerificationMethod): Promise<IssuedPin> {
    return this.sm.generatePin({ pvk, pan, method });
  }

  hash(pan: string): Promise<string> {
    return this.sm.panLookupHash(this.system.hmk, pan);
  }

  reveal(encrypted: string): Promise<string> {
    return this.sm.decryptData(this.system.dek, encrypted);
  }

  /** The card number under a client's card-number key (ZEK): 32 hex digits. */
  async forClient(pan: string, zekName: string | null): Promise<string> {
    return this.sm.encryptPanForClient({ zek: await this.clientKey(zekName), pan });
  }

  async fromClient(encrypted: string, zekName: string | null): Promise<string | undefined> {
    const zek = await this.clientKey(zekName);
    try {
      return await this.sm.decryptPanFromClient({ zek, encrypted });
    } catch {
      return undefined;
    }
  }

  private async clientKey(zekName: string | null): Promise<string> {
    const key = zekName ? await this.keys.find(zekName) : undefined;
    if (!key) throw businessRule('VPL5SIE31S', 'ENC-FAILURE INVALID ORG - NO CARD-NUMBER KEY FOR THIS CLIENT');
    return key.keyBlock;
  }
}

/** The BIN a PAN token keeps: 8 digits for an 8-digit BIN, else 6. */
const tokenBinLength = (binLength: number): 6 | 8 => (binLength === 8 ? 8 : 6);
