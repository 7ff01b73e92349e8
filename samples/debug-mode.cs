#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Debugging Coroutines / Debug mode". Debug mode logs steps that hold the loop, shows where a task whose
// exception nobody read was created, and the call graph shows who awaits what (asyncio's print_call_graph).
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Kettle;

var clock = Stopwatch.StartNew();
using (var runner = new Runner(new RunOptions { Debug = true, SlowCallbackDuration = TimeSpan.FromMilliseconds(50) }))
{
    runner.Run(Main());
    // Collect the dropped task so its never-retrieved exception is reported now, with its creation site.
    GC.Collect();
    GC.WaitForPendingFinalizers();
    runner.Run(Tick());
}
Console.WriteLine($"(took {clock.Elapsed.TotalSeconds:0.00} s)");

static async Coroutine Tick() => await Aio.Sleep(0);

static async Coroutine Hog()
{
    await Aio.Yield();
    Thread.Sleep(120); // blocks the loop: debug mode logs "Executing <Task ... name='hog' ...> took 0.12x seconds"
}

static async Coroutine Fail()
{
    await Aio.Sleep(0.01);
    throw new InvalidOperationException("nobody reads me");
}

[MethodImpl(MethodImplOptions.NoInlining)]
static void StartAndForget() => _ = Aio.CreateTask(Fail(), "forgotten");

static async Coroutine Track(string name, double seconds) => await Aio.Sleep(seconds);

static async Coroutine Album(string title, string[] tracks) =>
    await TaskGroup.Run(async tg =>
    {
        foreach (var t in tracks)
        {
            _ = tg.CreateTask(Track(t, 1), t);
        }
        await Aio.Sleep(0);
    });

static async Coroutine ShowGraph(AioTask track)
{
    await Aio.Sleep(0.5);
    Console.WriteLine("--- call graph of one track ---");
    Aio.PrintCallGraph(track);
}

static async Coroutine Main()
{
    Console.WriteLine("--- a slow step ---");
    await Aio.CreateTask(Hog(), "hog");

    Console.WriteLine("--- a task whose exception nobody reads (reported when collected) ---");
    StartAndForget();
    await Aio.Sleep(0.05);

    await TaskGroup.Run(async tg =>
    {
        _ = tg.CreateTask(Album("Sundowning", new[] { "TNDNBTG", "Levitate" }), "Sundowning");
        await Aio.Sleep(0.1);
        var track = Aio.AllTasks().First(t => t.Name == "Levitate");
        _ = tg.CreateTask(ShowGraph(track), "observer");
    });
}
