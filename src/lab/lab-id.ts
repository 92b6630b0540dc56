// Lab ids: six hex digits, random, the same generator for every backend. Every object a lab
// makes carries its id, so that the lab's owner can find and remove what it made.

/** A random lab id: six hex digits. */
export function newLabId(): string {
  return Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
}
