// A deterministic timer queue: an indexed binary min-heap keyed by (deadline, creation
// order). Each Timer knows its heap slot, so start/stop/restart are O(log n) without
// tombstones. Nothing here reads a clock: the owner asks for due timers at a given time.

export type TimerCallback = (deadline: number) => void;

export class Timer {
  /** Position in the heap, -1 while stopped. */
  index = -1;
  deadline = 0;
  /** Tie-breaker: timers due at the same ms fire in the order they were (re)started. */
  order = 0;
  readonly callback: TimerCallback;
  readonly queue: TimerQueue;

  constructor(queue: TimerQueue, callback: TimerCallback) {
    this.queue = queue;
    this.callback = callback;
  }

  get running(): boolean {
    return this.index >= 0;
  }

  /** (Re)starts the timer to fire at `deadline` (absolute ms). */
  start(deadline: number): void {
    this.queue.place(this, deadline);
  }

  stop(): void {
    this.queue.remove(this);
  }

  /** Runs the callback (the queue calls this when the timer is due); a subclass may fire
   * without a closure of its own (one shared function for many timers). */
  fire(): void {
    this.callback(this.deadline);
  }

  /** Remaining time at `now`, 0 when stopped or overdue. */
  remaining(now: number): number {
    return this.running ? Math.max(0, this.deadline - now) : 0;
  }
}

export class TimerQueue {
  private readonly heap: Timer[] = [];
  private counter = 0;

  create(callback: TimerCallback): Timer {
    return new Timer(this, callback);
  }

  get size(): number {
    return this.heap.length;
  }

  nextDeadline(): number | undefined {
    return this.heap[0]?.deadline;
  }

  /** Removes and returns the earliest timer due at `now`, or undefined. */
  popDue(now: number): Timer | undefined {
    const first = this.heap[0];
    if (first === undefined || first.deadline > now) return undefined;
    this.remove(first);
    return first;
  }

  /** Fires every timer due at `now`, including ones that callbacks start for `now`. */
  runDue(now: number): number {
    let fired = 0;
    for (let timer = this.popDue(now); timer !== undefined; timer = this.popDue(now)) {
      fired++;
      timer.fire();
    }
    return fired;
  }

  place(timer: Timer, deadline: number): void {
    if (timer.queue !== this) throw new Error('timer belongs to another queue');
    timer.deadline = deadline;
    timer.order = this.counter++;
    if (timer.index < 0) {
      timer.index = this.heap.length;
      this.heap.push(timer);
      this.up(timer.index);
    } else {
      this.up(timer.index);
      this.down(timer.index);
    }
  }

  remove(timer: Timer): void {
    const index = timer.index;
    if (index < 0) return;
    const last = this.heap.pop()!;
    timer.index = -1;
    if (last !== timer) {
      this.heap[index] = last;
      last.index = index;
      this.up(index);
      this.down(last.index);
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    this.heap[i] = b;
    this.heap[j] = a;
    a.index = j;
    b.index = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.less(this.heap[left]!, this.heap[smallest]!)) smallest = left;
      if (right < n && this.less(this.heap[right]!, this.heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
