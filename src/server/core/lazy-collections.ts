/*
 * A Set and a Map that allocate their table on the first insertion. An empty Set costs about
 * 150 bytes of heap and an empty Map about 180; a server may know hundreds of thousands of
 * functions (`create function`, or one per customer) that never see a sleeping worker or a job
 * with a unique id, and these cost 32 bytes each until they do. Only what the core uses is here.
 */

const NO_VALUES: ReadonlySet<never> = new Set<never>();
const NO_ENTRIES: ReadonlyMap<never, never> = new Map<never, never>();

/** A Set whose storage is made by the first `add`. Iteration sees deletions made meanwhile. */
export class LazySet<T> implements Iterable<T> {
  private set: Set<T> | undefined = undefined;

  get size(): number {
    return this.set === undefined ? 0 : this.set.size;
  }

  has(value: T): boolean {
    return this.set !== undefined && this.set.has(value);
  }

  add(value: T): this {
    (this.set ??= new Set()).add(value);
    return this;
  }

  delete(value: T): boolean {
    return this.set !== undefined && this.set.delete(value);
  }

  values(): IterableIterator<T> {
    return (this.set ?? NO_VALUES).values();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.values();
  }
}

/** A Map whose storage is made by the first `set`. */
export class LazyMap<K, V> implements Iterable<[K, V]> {
  private map: Map<K, V> | undefined = undefined;

  get size(): number {
    return this.map === undefined ? 0 : this.map.size;
  }

  get(key: K): V | undefined {
    return this.map?.get(key);
  }

  has(key: K): boolean {
    return this.map !== undefined && this.map.has(key);
  }

  set(key: K, value: V): this {
    (this.map ??= new Map()).set(key, value);
    return this;
  }

  delete(key: K): boolean {
    return this.map !== undefined && this.map.delete(key);
  }

  values(): IterableIterator<V> {
    return (this.map ?? NO_ENTRIES).values();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return (this.map ?? NO_ENTRIES).entries();
  }
}
