#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Handling Errors in Async Code". A TaskGroup raises an ExceptionGroup; Split is C#'s `except*`.
using System.Diagnostics;
using Kettle;

var clock = Stopwatch.StartNew();
Aio.Run(Main());
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine<string> RiskyTask(string name, bool shouldFail = false)
{
    await Aio.Sleep(1);
    if (shouldFail)
    {
        throw new ArgumentException($"{name} encountered an error");
    }
    return $"{name} succeeded";
}

static async Coroutine Main()
{
    try
    {
        await TaskGroup.Run(async tg =>
        {
            _ = tg.CreateTask(RiskyTask("Safe"));
            _ = tg.CreateTask(RiskyTask("Dangerous", shouldFail: true));
        });
    }
    catch (ExceptionGroup eg) when (eg.Contains<ArgumentException>())   // except* ValueError as eg:
    {
        var (valueErrors, rest) = eg.Split<ArgumentException>();
        foreach (var err in valueErrors!.Exceptions)
        {
            Console.WriteLine($"Caught: {err.Message}");
        }
        rest?.Rethrow(); // anything else in the group goes on up, as with except*
    }
}
