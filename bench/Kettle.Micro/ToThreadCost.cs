using BenchmarkDotNet.Attributes;
using Kettle;

/// <summary>
/// to_thread against its .NET baseline, in one run: a burst of calls of a trivial function started together and
/// then awaited together (the shape of the to_thread workload of ../shared/bench), per call, with allocations.
/// Run: dotnet run -c Release --project bench/Kettle.Micro -- --filter '*ToThreadCost*' --job short
/// </summary>
[MemoryDiagnoser]
public class ToThreadCost : LoopFixture
{
    private const int Calls = 1000;
    // The real clock: the calls run on threads.
    protected override RunOptions Options => new() { HandleCtrlC = false };

    /// <summary>Kettle: <c>Aio.ToThread(Trivial, i)</c> for each call, then one <c>Aio.Gather</c>, on a warm loop.</summary>
    [Benchmark(OperationsPerInvoke = Calls)]
    public int KettleToThread() => Loop.Run(Burst());

    /// <summary>The baseline: <c>Task.Run(() => Trivial(i))</c> for each call, then one <c>Task.WhenAll</c>.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Calls)]
    public int TaskRun() => TaskRunBurst().GetAwaiter().GetResult();

    private static int Trivial(int i) => i + 1;

    private static async Coroutine<int> Burst()
    {
        var calls = new AioTask<int>[Calls];
        for (int i = 0; i < Calls; i++)
        {
            calls[i] = Aio.ToThread(Trivial, i);
        }
        int[] results = await Aio.Gather(calls);
        return results[^1];
    }

    private static async Task<int> TaskRunBurst()
    {
        var calls = new Task<int>[Calls];
        for (int i = 0; i < Calls; i++)
        {
            int j = i;
            calls[i] = Task.Run(() => Trivial(j));
        }
        int[] results = await Task.WhenAll(calls);
        return results[^1];
    }
}
