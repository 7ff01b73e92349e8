#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Process Pools for CPU-Bound Work". The sum runs in a worker process, outside this one, while the
// loop stays free. Workers are started from this app's own build; what travels is a call to a public static
// method and its arguments (as JSON), so the function lives in a public static class rather than in a local
// function (Python's counterpart must be a module-level function for the same reason: it is sent by name).
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine Main()
{
    using var pool = new ProcessPoolExecutor();
    var result = await Aio.RunInExecutor(pool, Work.CpuHeavyWork, 10_000_000);
    Console.WriteLine($"Result: {result}");
}

public static class Work
{
    /// <summary>The sum of i * i for i below n. Python's ints never overflow; 333333283333335000000 needs more
    /// than a long, so the sum is an Int128 (System.Text.Json carries it as a plain JSON number).</summary>
    public static Int128 CpuHeavyWork(int n)
    {
        Int128 total = 0;
        for (long i = 0; i < n; i++)
        {
            total += (Int128)(i * i);
        }
        return total;
    }
}
