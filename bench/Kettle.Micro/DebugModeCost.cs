using BenchmarkDotNet.Attributes;
using Kettle;

/// <summary>
/// What debug mode costs per task step (issue 6). Debug on times every step (slow-step warnings, the running step and
/// each task's waiting time for kettle top) and records creation stacks; off, the loop reads one timestamp per
/// iteration for kettle's "running for" figure.
/// Run: dotnet run -c Release --project bench/Kettle.Micro -- --filter '*DebugModeCost*'
/// </summary>
[MemoryDiagnoser]
public class DebugModeCost
{
    private const int Ops = 10_000;
    private Runner runner = null!;

    [Params(false, true)]
    public bool Debug { get; set; }

    [GlobalSetup]
    public void Setup() => runner = new Runner(new RunOptions { Debug = Debug, TimeProvider = new VirtualClock(), HandleCtrlC = false });

    [GlobalCleanup]
    public void Cleanup() => runner.Dispose();

    /// <summary>One task step: a running task yields to the loop and is resumed.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int TaskStep() => runner.Run(Yields());

    /// <summary>One task created, run for two steps and awaited (debug mode also records where it was created).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int CreateAndAwaitTask() => runner.Run(CreateAndAwait());

    private static async Coroutine<int> Yields()
    {
        for (int i = 0; i < Ops; i++)
        {
            await Aio.Yield();
        }
        return Ops;
    }

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
}
