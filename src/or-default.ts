/**
 * An option's value, or its default when it was not given. `undefined` only: 0, ''
 * and false are values (a maxMessage of 0 allows only empty messages). One function
 * instead of the same ternary at every option keeps the device bundle smaller.
 */
export function orDefault<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}
