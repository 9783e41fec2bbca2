/** The EQL syntax tree. Every node keeps the offset where it starts, for error positions. */

export type LiteralValue = string | number | boolean | null;

export interface Literal {
  type: 'Literal';
  value: LiteralValue;
  /** Number written with a fraction or exponent (a double in Elasticsearch, not a long). */
  isFloat: boolean;
  at: number;
}

export interface Field {
  type: 'Field';
  /** The dotted name as written, e.g. `process.parent.name`. */
  name: string;
  /** `?field`: may be absent from the mapping. Schemaless here, so it behaves like any field. */
  optional: boolean;
  at: number;
}

export interface Not {
  type: 'Not';
  expr: Expr;
  at: number;
}

export interface Logical {
  type: 'And' | 'Or';
  operands: Expr[];
  at: number;
}

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export interface Compare {
  type: 'Compare';
  op: CompareOp;
  left: Expr;
  right: Expr;
  at: number;
}

/** `:` (always case-insensitive), `like`, `like~`, `regex`, `regex~` against one or more constant patterns. */
export interface Match {
  type: 'Match';
  op: ':' | 'like' | 'regex';
  caseInsensitive: boolean;
  left: Expr;
  patterns: Literal[];
  at: number;
}

export interface In {
  type: 'In';
  left: Expr;
  list: Expr[];
  caseInsensitive: boolean;
  at: number;
}

export interface Call {
  type: 'Call';
  /** Canonical function name, e.g. `startsWith`. */
  name: string;
  caseInsensitive: boolean;
  args: Expr[];
  at: number;
}

export type ArithOp = '+' | '-' | '*' | '/' | '%';

export interface Arith {
  type: 'Arith';
  op: ArithOp;
  left: Expr;
  right: Expr;
  at: number;
}

export interface Negate {
  type: 'Negate';
  expr: Expr;
  at: number;
}

export type Expr = Literal | Field | Not | Logical | Compare | Match | In | Call | Arith | Negate;

export interface Query {
  /** Event category (`process where`), or null for `any where`. */
  category: string | null;
  where: Expr;
  at: number;
}
