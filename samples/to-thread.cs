#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Wrapping Blocking Code with asyncio.to_thread". The blocking call runs on a worker thread while
// the loop stays free: another task keeps ticking meanwhile.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static string SlowDatabaseQuery()
{
    // Simulates a blocking database call
    Thread.Sleep(2000);
    return "query results";
}

static async Coroutine Ticker()
{
    for (int i = 1; ; i++)
    {
        await Aio.Sleep(0.5);
        Console.WriteLine($"tick {i} (the loop is free)");
    }
}

static async Coroutine Main()
{
    var ticker = Aio.CreateTask(Ticker(), name: "ticker");
    // Run the blocking call in a thread, keep the loop free
    string result = await Aio.ToThread(SlowDatabaseQuery);
    Console.WriteLine(result);
    ticker.Cancel();
}
