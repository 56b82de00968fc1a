/**
 * Python-literal values, as pdseg reads them: every string value (from YAML or the command line)
 * goes through Python's `ast.literal_eval`, and keeps its raw text when that fails. So
 * `(769, 769)` and `[769, 769]` are lists, `u"stepscaling"` is `stepscaling`, `True`/`False`/`None`
 * are booleans and null, `1e-4` is a number and `"['a','b']"` a list of strings, while `|`, ` `,
 * paths and `deeplabv3p` stay strings. seg also accepts the YAML spellings `true`, `false`, `null`.
 */

export type Literal = null | boolean | number | string | Literal[] | { [key: string]: Literal };

class LiteralSyntaxError extends Error {}

class Parser {
  private pos = 0;
  constructor(private readonly src: string) {}

  parseAll(): Literal {
    this.skipWs();
    if (this.pos >= this.src.length) throw new LiteralSyntaxError('empty');
    const first = this.parseValue();
    this.skipWs();
    // A top-level comma makes a tuple, as in Python: `1, 2` → (1, 2).
    if (this.peek() === ',') {
      const items: Literal[] = [first];
      while (this.peek() === ',') {
        this.pos++;
        this.skipWs();
        if (this.pos >= this.src.length) break;
        items.push(this.parseValue());
        this.skipWs();
      }
      this.expectEnd();
      return items;
    }
    this.expectEnd();
    return first;
  }

  private expectEnd(): void {
    this.skipWs();
    if (this.pos !== this.src.length) throw new LiteralSyntaxError(`unexpected ${JSON.stringify(this.src.slice(this.pos, this.pos + 10))}`);
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private skipWs(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? '')) this.pos++;
  }

  private parseValue(): Literal {
    this.skipWs();
    const c = this.peek();
    if (c === undefined) throw new LiteralSyntaxError('unexpected end');
    if (c === '[') return this.parseSeq(']').items;
    if (c === '(') {
      const { items, trailingComma } = this.parseSeq(')');
      // `(5)` is 5; `(5,)` and `()` are tuples.
      if (items.length === 1 && !trailingComma) return items[0] as Literal;
      return items;
    }
    if (c === '{') return this.parseDict();
    if (c === '"' || c === "'") return this.parseString();
    if ((c === 'u' || c === 'U' || c === 'r' || c === 'R') && (this.src[this.pos + 1] === '"' || this.src[this.pos + 1] === "'")) {
      const raw = c === 'r' || c === 'R';
      this.pos++;
      return this.parseString(raw);
    }
    if (/[0-9+\-.]/.test(c)) return this.parseNumber();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos))?.[0];
    if (word !== undefined) {
      const value = WORDS.get(word);
      if (value !== undefined) {
        this.pos += word.length;
        return value.v;
      }
    }
    throw new LiteralSyntaxError(`not a literal at ${this.pos}`);
  }

  private parseSeq(close: string): { items: Literal[]; trailingComma: boolean } {
    this.pos++; // open
    const items: Literal[] = [];
    let trailingComma = false;
    this.skipWs();
    if (this.peek() === close) {
      this.pos++;
      return { items, trailingComma };
    }
    for (;;) {
      items.push(this.parseValue());
      this.skipWs();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
        this.skipWs();
        if (this.peek() === close) {
          this.pos++;
          trailingComma = true;
          return { items, trailingComma };
        }
        continue;
      }
      if (c === close) {
        this.pos++;
        return { items, trailingComma };
      }
      throw new LiteralSyntaxError(`expected , or ${close}`);
    }
  }

  private parseDict(): { [key: string]: Literal } {
    this.pos++;
    const out: { [key: string]: Literal } = {};
    this.skipWs();
    if (this.peek() === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      const k = this.parseValue();
      if (typeof k !== 'string' && typeof k !== 'number' && typeof k !== 'boolean' && k !== null) throw new LiteralSyntaxError('unhashable key');
      this.skipWs();
      if (this.peek() !== ':') throw new LiteralSyntaxError('expected :');
      this.pos++;
      out[String(k)] = this.parseValue();
      this.skipWs();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
        this.skipWs();
        if (this.peek() === '}') {
          this.pos++;
          return out;
        }
        continue;
      }
      if (c === '}') {
        this.pos++;
        return out;
      }
      throw new LiteralSyntaxError('expected , or }');
    }
  }

  private parseString(raw = false): string {
    const quote = this.peek() as string;
    const triple = this.src.startsWith(quote.repeat(3), this.pos);
    const delim = triple ? quote.repeat(3) : quote;
    this.pos += delim.length;
    let out = '';
    for (;;) {
      if (this.pos >= this.src.length) throw new LiteralSyntaxError('unterminated string');
      if (this.src.startsWith(delim, this.pos)) {
        this.pos += delim.length;
        break;
      }
      const c = this.src[this.pos] as string;
      if (c === '\\' && !raw) {
        const n = this.src[this.pos + 1];
        const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
        if (n !== undefined && esc[n] !== undefined) {
          out += esc[n];
          this.pos += 2;
          continue;
        }
      }
      if (!triple && c === '\n') throw new LiteralSyntaxError('newline in string');
      out += c;
      this.pos++;
    }
    // Python concatenates adjacent string literals: 'a' 'b' → 'ab'.
    this.skipWs();
    const c = this.peek();
    if (c === '"' || c === "'") return out + this.parseString(raw);
    return out;
  }

  private parseNumber(): number {
    const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(this.src.slice(this.pos));
    const text = m?.[0] ?? '';
    if (text === '' || text === '+' || text === '-' || text === '.' || /^[+-]?\.?$/.test(text) || /^[+-]?\.[eE]/.test(text)) {
      throw new LiteralSyntaxError('bad number');
    }
    this.pos += text.length;
    const clean = text.replace(/_/g, '');
    let sign = 1;
    let body = clean;
    if (body.startsWith('-')) {
      sign = -1;
      body = body.slice(1);
    } else if (body.startsWith('+')) body = body.slice(1);
    let v: number;
    if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
    else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
    else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
    else v = Number(body);
    if (!Number.isFinite(v)) throw new LiteralSyntaxError('bad number');
    return sign * v;
  }
}

const WORDS = new Map<string, { v: Literal }>([
  ['True', { v: true }],
  ['False', { v: false }],
  ['None', { v: null }],
  // YAML spellings, accepted by seg on the command line as well.
  ['true', { v: true }],
  ['false', { v: false }],
  ['null', { v: null }],
]);

/** Python `literal_eval` of `text`, or `text` itself when it is not a literal (pdseg's behaviour). */
export function parseLiteral(text: string): Literal {
  try {
    return new Parser(text).parseAll();
  } catch (e) {
    if (e instanceof LiteralSyntaxError) return text;
    throw e;
  }
}
