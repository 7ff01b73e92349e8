#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Running Multiple Coroutines Together". Three waits of 3 s, 1 s and 2 s take 3 s, not 6.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine<string> Job(string name, int delay)
{
    Console.WriteLine($"{name}: starting");
    await Aio.Sleep(delay);
    Console.WriteLine($"{name}: done after {delay}s");
    return name;
}

static async Coroutine Main()
{
    // Results come back in argument order, whatever order the jobs finish in.
    string[] results = await Aio.Gather(
        Job("Alpha", 3),
        Job("Beta", 1),
        Job("Gamma", 2));
    Console.WriteLine($"All done: [{string.Join(", ", results)}]");
}
