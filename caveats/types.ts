/**
 * The shapes shared by every first-party caveat: what a request looks like to a caveat check,
 * the options a verifier tunes, what a check answers, and the contract a caveat type fulfils.
 */

/**
 * What a caveat check may look at. The verifier fills in what it knows about the request; a
 * caveat whose field is missing (or not of the expected type) fails closed.
 */
export interface RequestContext {
  /** The verifier's current time. */
  readonly now?: Date;
  /** The operation requested (`read`, `write`…), for `ops`. */
  readonly operation?: string;
  /** The absolute resource path requested, for `resource`. */
  readonly resource?: string;
  /** The HTTP method, upper case, for `method`. */
  readonly method?: string;
  /** The client's IP address (v4, v6 or IPv4-mapped v6), for `client-ip`. */
  readonly ip?: string;
  /** The agent tool being called, for `tool`. */
  readonly tool?: string;
  /** The service this verifier is, for `aud`. */
  readonly audience?: string;
  /** Facts collected with `collectDeclared` over the token and its discharges, for `declared`. */
  readonly declared?: ReadonlyMap<string, string>;
  /** Anything an application caveat needs. */
  readonly [key: string]: unknown;
}

/** Verifier tuning. */
export interface CheckOptions {
  /**
   * Clock skew tolerated by `time-before`/`time-after`, in milliseconds: an integer from 0 to
   * 300 000 (five minutes). Default 0: times are compared exactly against `ctx.now`.
   */
  readonly clockSkewMs?: number;
  /**
   * When true, stateful caveats (`uses`) are returned by `evaluate` for the verifier to count
   * atomically in its database; when false (default) they fail closed.
   */
  readonly allowStateful?: boolean;
}

/** A check's answer. A failure says why in words that are safe to show the client. */
export type CheckResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** One kind of first-party caveat: `name argument`, with a typed argument value. */
export interface CaveatType<V> {
  /** The condition name (the text before the first space). */
  readonly name: string;
  /**
   * True when the caveat cannot be decided from the request alone (it needs a counter). The
   * evaluator never calls `check` for it: it fails it closed, or hands it back to the verifier.
   */
  readonly stateful?: boolean;
  /** Parse the argument text strictly; throws TesseraError ERR_CAVEAT_MALFORMED with a reason. */
  parse(arg: string): V;
  /**
   * The canonical argument text for a value; throws ERR_INVALID_ARGUMENT for a value that would
   * not parse back to itself. Parsed values are shared through a cache: treat them as read-only.
   */
  format(value: V): string;
  /** Decide the caveat for a request. Must not throw for any context. */
  check(value: V, ctx: RequestContext, opts: ResolvedCheckOptions): CheckResult;
}

/** CheckOptions with defaults applied, as checks receive them. */
export interface ResolvedCheckOptions {
  readonly clockSkewMs: number;
  readonly allowStateful: boolean;
}
