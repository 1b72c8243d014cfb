/** The product of a list of numbers (1 for none): sizes from modes, counts from ranks. */
export const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
