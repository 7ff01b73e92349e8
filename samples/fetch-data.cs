#:project ../src/Kettle/Kettle.csproj
// Tutorial: "How await Works". Aio.Sleep suspends this coroutine and leaves the loop free.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
var data = Aio.Run(FetchData());
Console.WriteLine($"Returned: {data}");
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine<string> FetchData()
{
    Console.WriteLine("Starting fetch...");
    await Aio.Sleep(2); // simulates a slow I/O operation
    Console.WriteLine("Data received!");
    return "some data";
}
