import { expect } from 'chai';
import { ManualClock, ShiftedClock } from '../../../controller/runtime/clock.js';
import { WorkQueue, runWorkers } from '../../../controller/runtime/workqueue.js';

describe('the reconcile work queue', () => {
  it('holds a key once however often it is added before a worker takes it', async () => {
    const queue = new WorkQueue(new ManualClock());
    queue.add('ns/sql-tier');
    queue.add('ns/sql-tier');
    queue.add('ns/web-tier');
    expect(queue.depth).to.equal(2);
    expect(await queue.get()).to.equal('ns/sql-tier');
    expect(await queue.get()).to.equal('ns/web-tier');
  });

  it('never hands one key to two workers at once, and runs it again if it changed meanwhile', async () => {
    const queue = new WorkQueue(new ManualClock());
    queue.add('ns/a');
    const first = await queue.get();
    queue.add('ns/a');
    expect(queue.depth, 'in flight: not queued again yet').to.equal(0);
    queue.done(first!);
    expect(queue.depth).to.equal(1);
    expect(await queue.get()).to.equal('ns/a');
  });

  it('backs off exponentially per key on failure and forgets the history on success', () => {
    const queue = new WorkQueue(new ManualClock(), { baseMs: 10, maxMs: 1000 });
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map(() => queue.addRateLimited('ns/flaky'));
    expect(delays).to.deep.equal([10, 20, 40, 80, 160, 320, 640, 1000]);
    queue.forget('ns/flaky');
    expect(queue.addRateLimited('ns/flaky')).to.equal(10);
  });

  it('adds a key after a delay on the injected clock, keeping the earliest due time', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue(clock);
    queue.addAfter('ns/a', 5000);
    queue.addAfter('ns/a', 1000);
    clock.advance(999);
    expect(queue.depth).to.equal(0);
    clock.advance(1);
    expect(queue.depth).to.equal(1);
    expect(await queue.get()).to.equal('ns/a');
    clock.advance(10_000);
    expect(queue.depth, 'the later timer was replaced, not kept').to.equal(0);
  });

  it('keeps a short delay short after the wall clock steps a day ahead of a long one', async () => {
    const clock = new ShiftedClock();
    const queue = new WorkQueue(clock);
    queue.addAfter('ns/a', 3_600_000);
    clock.advance(86_400_000);
    queue.addAfter('ns/a', 20);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(queue.depth, 'the 20 ms add came due, not the hour-long one').to.equal(1);
    queue.shutdown();
  });

  it('retries a failing reconcile with back-off and stops retrying once it succeeds', async () => {
    const clock = new ManualClock();
    const queue = new WorkQueue(clock, { baseMs: 100 });
    const attempts: number[] = [];
    const running = runWorkers(queue, 2, (key) => {
      attempts.push(clock.now().getTime());
      if (attempts.length < 3) {
        return Promise.reject(new Error(`repository for ${key} unavailable`));
      }
      return Promise.resolve(undefined);
    });
    queue.add('ns/p');
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(100);
    }
    queue.shutdown();
    await running;
    const start = attempts[0]!;
    expect(attempts.map((t) => t - start)).to.deep.equal([0, 100, 300]);
  });
});
