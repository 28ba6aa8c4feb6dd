/** The error a promise rejects with, checked to be of `type`; fails the test (throws) if it resolves or rejects otherwise. */
export async function rejected<E extends Error>(p: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a rejection with ${type.name}`);
}
