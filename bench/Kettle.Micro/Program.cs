// Micro-benchmarks of Kettle's hot paths, with allocations (BenchmarkDotNet's memory diagnoser).
// Run: dotnet run -c Release --project bench/Kettle.Micro -- --filter '*'
// Each benchmark runs Ops operations inside one coroutine on a warm Runner, so the per-operation
// figures (time and bytes) are the operation's own, not the loop start-up's.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Kettle;

BenchmarkSwitcher.FromAssembly(typeof(HotPaths).Assembly).Run(args);

[MemoryDiagnoser]
public class HotPaths
{
    private const int Ops = 10_000;
    private Runner runner = null!;

    [GlobalSetup]
    public void Setup() => runner = new Runner(new RunOptions { TimeProvider = new VirtualClock(), HandleCtrlC = false });

    [GlobalCleanup]
    public void Cleanup() => runner.Dispose();

    /// <summary>Create a task from a coroutine that yields once, and await it.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int CreateAndAwaitTask() => runner.Run(CreateAndAwait());

    /// <summary>One loop-native await (a bare yield) in a running task.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int LoopNativeAwait() => runner.Run(Yields());

    /// <summary>One timer: a task sleeps on the virtual clock.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int OneTimer() => runner.Run(Sleeps());

    /// <summary>Awaiting a coroutine inline (no task): one box per call.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int AwaitCoroutineInline() => runner.Run(Inline());

    private static async Coroutine<int> CreateAndAwait()
    {
        int s = 0;
        for (int i = 0; i < Ops; i++)
        {
            s += await Aio.CreateTask(One(i));
        }
        return s;
    }

    private static async Coroutine<int> One(int i)
    {
        await Aio.Yield();
        return i;
    }

    private static async Coroutine<int> Yields()
    {
        for (int i = 0; i < Ops; i++)
        {
            await Aio.Yield();
        }
        return Ops;
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
