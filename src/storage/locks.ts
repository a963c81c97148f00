/**
 * Every PostgreSQL advisory lock key Tessera takes, in one table so that no two uses can collide
 * (two parts of the code taking one key would deadlock: a session lock is not re-entrant across
 * the connections of one process).
 */
export const LOCK_KEYS = Object.freeze({
  /** Transaction lock: migrations run once across processes starting together. */
  migrations: 0x7e55e4a_0001,
  /** Transaction lock: revocations commit in `seq` order. */
  revocations: 0x7e55e4a_0002,
  /** Transaction lock: root-key changes (first key, rotation, retirement) are serialised. */
  keys: 0x7e55e4a_0003,
  /** Session lock: instances started together mint the first admin token once. */
  bootstrap: 0x7e55e4a_0004,
  /** First key of the two-key transaction lock on one addressee's pending requests. */
  pendingClass: 0x7e55e4a,
});
