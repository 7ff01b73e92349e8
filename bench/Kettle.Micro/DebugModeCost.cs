using BenchmarkDotNet.Attributes;
using Kettle;

/// <summary>
/// What debug mode costs per task step (issue 6). Debug on times every step (slow-step warnings, the running step and
/// each task's waiting time for kettle top) and records creation stacks; off, the loop reads one timestamp per
/// iteration for kettle's "running for" figure.
/// Run: dotnet run -c Release --project bench/Kettle.Micro -- --filter '*DebugModeCost*'
/// </summary>
[MemoryDiagnoser]
public class DebugModeCost : LoopFixture
{
    private const int Ops = 10_000;

    [Params(false, true)]
    public bool Debug { get; set; }

    protected override RunOptions Options => new() { Debug = Debug, TimeProvider = new VirtualClock(), HandleCtrlC = false };

    /// <summary>One task step: a running task yields to the loop and is resumed.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int TaskStep() => Loop.Run(Yields(Ops));

    /// <summary>One task created, run for two steps and awaited (debug mode also records where it was created).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int CreateAndAwaitTask() => Loop.Run(CreateAndAwait(Ops));
}
