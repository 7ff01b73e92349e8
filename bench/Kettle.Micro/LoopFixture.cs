using BenchmarkDotNet.Attributes;
using Kettle;

/// <summary>
/// What the micro-benchmark fixtures share: one warm <see cref="Runner"/> per fixture (on a virtual clock unless a
/// fixture says otherwise), and the coroutines several of them time.
/// </summary>
public abstract class LoopFixture
{
    /// <summary>The fixture's loop; each benchmark invocation runs one coroutine on it.</summary>
    protected Runner Loop { get; private set; } = null!;

    /// <summary>The options the fixture's runner is made with.</summary>
    protected virtual RunOptions Options => new() { TimeProvider = new VirtualClock(), HandleCtrlC = false };

    [GlobalSetup]
    public void Setup() => Loop = new Runner(Options);

    [GlobalCleanup]
    public void Cleanup() => Loop.Dispose();

    /// <summary><paramref name="n"/> bare yields in one task.</summary>
    protected static async Coroutine<int> Yields(int n)
    {
        for (int i = 0; i < n; i++)
        {
            await Aio.Yield();
        }
        return n;
    }

    /// <summary><paramref name="n"/> tasks, each created from <see cref="One"/> and awaited before the next.</summary>
    protected static async Coroutine<int> CreateAndAwait(int n)
    {
        int s = 0;
        for (int i = 0; i < n; i++)
        {
            s += await Aio.CreateTask(One(i));
        }
        return s;
    }

    /// <summary>A coroutine that yields once and returns <paramref name="i"/>.</summary>
    protected static async Coroutine<int> One(int i)
    {
        await Aio.Yield();
        return i;
    }
}
