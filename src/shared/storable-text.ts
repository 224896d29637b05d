/**
 * Text PostgreSQL cannot store: a NUL character (refused in any text value) or an unpaired UTF-16
 * surrogate (refused in JSON, and turned into U+FFFD in text). JSON escapes (\u0000, \ud800),
 * percent-encoded form fields and query strings and Base64 credentials can all carry one; checked
 * at the edge, such a request is refused before it reaches a statement, where it would fail the
 * statement (and, batched, the other requests' rows in it).
 */
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Control characters: C0 (U+0000–U+001F, with TAB, CR and LF), DEL (U+007F) and C1
 * (U+0080–U+009F). No field of a card system holds one: in a name or an address a CR/LF splits
 * the line of an embossing or bureau file, an ESC or CSI sequence rewrites a terminal that shows a
 * log or an audit record, and a C1 NEL (U+0085) is a line break to some readers. Raw C0
 * characters are not valid JSON, but escapes (\n, \u001b) are, and DEL and C1 are valid raw.
 */
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/;

export type TextProblem = 'unstorable' | 'control';

/** What is wrong with one string, if anything (a NUL is reported as unstorable, its older, more specific code). */
export function stringProblem(text: string): TextProblem | undefined {
  if (UNSTORABLE.test(text)) return 'unstorable';
  if (CONTROL.test(text)) return 'control';
  return undefined;
}

/**
 * The first problem found in any string of the value: nested in objects and arrays, keys
 * included (a field emboss does not model is kept as sent, name and all). An unstorable
 * character wins over a control character wherever they are, so the code does not depend on
 * the order of the fields. Walked with a stack of its own, not by recursion: the value may come
 * from a client, and its depth must not decide whether the check itself fails.
 */
export function textProblem(value: unknown): TextProblem | undefined {
  let found: TextProblem | undefined;
  const note = (text: string) => {
    const p = stringProblem(text);
    if (p === 'unstorable') return true;
    if (p) found = p;
    return false;
  };
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (note(v)) return 'unstorable';
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [key, item] of Object.entries(v)) {
        if (note(key)) return 'unstorable';
        stack.push(item);
      }
    }
  }
  return found;
}

/** Whether any string in the value (nested in objects and arrays, keys included) cannot be stored. */
export function hasUnstorableText(value: unknown): boolean {
  return textProblem(value) === 'unstorable';
}
