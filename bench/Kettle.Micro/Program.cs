// Micro-benchmarks of Kettle's hot paths, with allocations (BenchmarkDotNet's memory diagnoser).
// Run: dotnet run -c Release --project bench/Kettle.Micro -- --filter '*'
//      (quick look: add --job short; one benchmark: --filter '*LockHandoff*')
// Each benchmark runs Ops operations inside one coroutine on a warm Runner, so the per-operation
// figures (time and bytes) are the operation's own, not the loop start-up's.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Kettle;

BenchmarkSwitcher.FromAssembly(typeof(HotPaths).Assembly).Run(args);

[MemoryDiagnoser]
public class HotPaths : LoopFixture
{
    private const int Ops = 10_000;

    /// <summary>Create a task from a coroutine that yields once, and await it.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int CreateAndAwaitTask() => Loop.Run(CreateAndAwait(Ops));

    /// <summary>One loop-native await (a bare yield) in a running task.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int LoopNativeAwait() => Loop.Run(Yields(Ops));

    /// <summary>One timer: a task sleeps on the virtual clock.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int OneTimer() => Loop.Run(Sleeps());

    /// <summary>Awaiting a coroutine inline (no task): one box per call.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int AwaitCoroutineInline() => Loop.Run(Inline());

    /// <summary>One put and one get on a queue with room (neither blocks): the loop-native fast path.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int QueuePutGet() => Loop.Run(PutsAndGets());

    /// <summary>One put/get hand-off between a producer and a consumer through a bounded queue of 1 (each side
    /// blocks in turn: a wake-up through the ready queue per item).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int QueueHandoff() => Loop.Run(QueueHandoffs());

    /// <summary>An uncontended lock acquire and release.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int LockUncontended() => Loop.Run(LockAlone());

    /// <summary>One lock hand-off: two tasks take turns on a lock, each holding it across a yield, so every
    /// acquisition waits for the other task's release.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int LockHandoff() => Loop.Run(LockTurns());

    private static async Coroutine<int> PutsAndGets()
    {
        var q = new AioQueue<int>(16);
        int s = 0;
        for (int i = 0; i < Ops; i++)
        {
            await q.Put(i);
            s += await q.Get();
        }
        return s;
    }

    private static async Coroutine<int> QueueHandoffs()
    {
        var q = new AioQueue<int>(1);
        var consumer = Aio.CreateTask(Consume(q));
        for (int i = 0; i < Ops; i++)
        {
            await q.Put(i);
        }
        return await consumer;
    }

    private static async Coroutine<int> Consume(AioQueue<int> q)
    {
        int s = 0;
        for (int i = 0; i < Ops; i++)
        {
            s += await q.Get();
        }
        return s;
    }

    private static async Coroutine<int> LockAlone()
    {
        var gate = new AioLock();
        for (int i = 0; i < Ops; i++)
        {
            using (await gate.Acquire())
            {
            }
        }
        return Ops;
    }

    private static async Coroutine<int> LockTurns()
    {
        var gate = new AioLock();
        var other = Aio.CreateTask(TakeTurns(gate, Ops / 2));
        await TakeTurns(gate, Ops / 2);
        await other;
        return Ops;
    }

    private static async Coroutine TakeTurns(AioLock gate, int times)
    {
        for (int i = 0; i < times; i++)
        {
            using (await gate.Acquire())
            {
                await Aio.Yield();
            }
        }
    }

    private static async Coroutine<int> Sleeps()
    {
        for (int i = 0; i < Ops; i++)
        {
            await Aio.Sleep(0.001);
        }
        return Ops;
    }

    private static async Coroutine<int> Inline()
    {
        int s = 0;
        for (int i = 0; i < Ops; i++)
        {
            s += await One(i);
        }
        return s;
    }
}
