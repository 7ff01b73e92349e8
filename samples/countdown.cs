#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Async Iteration". An async iterator (C#'s async generator) awaited with `await foreach`.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async IAsyncEnumerable<int> Countdown(int n)
{
    for (int i = n; i > 0; i--)
    {
        yield return i;
        await Aio.Sleep(0.5);
    }
}

static async Coroutine Main()
{
    await foreach (var count in Countdown(5))
    {
        Console.WriteLine($"T-minus {count}");
    }
}
