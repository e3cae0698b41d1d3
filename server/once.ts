/**
 * Runs `fn` on the first call only; every later call returns the first call's result (a promise is
 * shared, not run again). A first call that throws is not remembered: the next call runs `fn` again.
 * Later calls' arguments are ignored.
 */
export function once<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
  let done = false;
  let value: T;
  return (...args) => {
    if (!done) {
      value = fn(...args);
      done = true;
    }
    return value;
  };
}
