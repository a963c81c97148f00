/**
 * The scrypt cost the tests' systems hash passwords at (`createSystem({ passwordHashing })`):
 * the lowest the bounds allow, ~1 ms a hash instead of the default's ~200 ms of CPU. The tests
 * of the default cost itself use the default.
 */
export const TEST_SCRYPT = Object.freeze({ N: 2 ** 10, r: 8, p: 1 });
