using BenchmarkDotNet.Attributes;
using Kettle;

/// <summary>
/// The structured-concurrency combinators per child or per call, with allocations: a TaskGroup child, a task in an
/// Aio.Wait, a shield of a pending task, a WaitFor with a timeout that does not expire. Each child yields once.
/// Run: dotnet run -c Release --project bench/Kettle.Micro -- --filter '*StructuredCost*' --job short
/// </summary>
[MemoryDiagnoser]
public class StructuredCost : LoopFixture
{
    private const int Ops = 10_000;
    private const int Fan = 1000;

    /// <summary>One TaskGroup child (groups of 1000, as the taskgroup workload), including its task box.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int TaskGroupChild() => Loop.Run(Groups());

    /// <summary>One task of an <c>Aio.Wait</c> of 1000 (all completed), including its task box.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int WaitPerTask() => Loop.Run(Waits());

    /// <summary>Shield a new pending task and await the shield.</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int ShieldPending() => Loop.Run(Shields());

    /// <summary><c>Aio.WaitFor(coroutine, 10)</c> of a coroutine that yields once (the deadline never passes).</summary>
    [Benchmark(OperationsPerInvoke = Ops)]
    public int WaitForWithTimeout() => Loop.Run(WaitFors());

    private static async Coroutine<int> Groups()
    {
        for (int g = 0; g < Ops / Fan; g++)
        {
            await TaskGroup.Run(Fill);
        }
        return Ops;
    }

#pragma warning disable CS1998 // an async body with no await: the group's exit is the await.
    private static async Coroutine Fill(TaskGroup tg)
#pragma warning restore CS1998
    {
        for (int i = 0; i < Fan; i++)
        {
            _ = tg.CreateTask(One(i));
        }
    }

    private static async Coroutine<int> Waits()
    {
        var tasks = new AioTask<int>[Fan];
        for (int g = 0; g < Ops / Fan; g++)
        {
            for (int i = 0; i < Fan; i++)
            {
                tasks[i] = Aio.CreateTask(One(i));
            }
            await Aio.Wait(tasks);
        }
        return Ops;
    }

    private static async Coroutine<int> Shields()
    {
        int s = 0;
        for (int i = 0; i < Ops; i++)
        {
            s += await Aio.Shield(Aio.CreateTask(One(i)));
        }
        return s;
    }

    private static async Coroutine<int> WaitFors()
    {
        int s = 0;
        for (int i = 0; i < Ops; i++)
        {
            s += await Aio.WaitFor(One(i), 10);
        }
        return s;
    }
}
