#:project ../src/Kettle/Kettle.csproj
// Tutorial: "Structured Concurrency with TaskGroup". The group waits for every child before going on.
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
    AioTask<string> t1 = null!, t2 = null!, t3 = null!;
    await TaskGroup.Run(async tg =>
    {
        t1 = tg.CreateTask(Job("Alpha", 3));
        t2 = tg.CreateTask(Job("Beta", 1));
        t3 = tg.CreateTask(Job("Gamma", 2));
    });
    // All tasks guaranteed complete here
    Console.WriteLine($"Results: {t1.Result}, {t2.Result}, {t3.Result}");
}
